import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchbox.errors import ParamError
from benchbox.params import coerce, label, parse_assignment, parse_entry, split_entries


def test_parse_entry_plain_and_inline():
    assert parse_entry("ae") == ("ae", {})
    assert parse_entry("salad[score=image, ssl=none]") == ("salad", {"score": "image", "ssl": "none"})


@pytest.mark.parametrize(
    "bad",
    [
        "salad[ssl=]",
        "salad[x=1",
        "salad[]",
        "salad[=1]",
        "salad[a]",
        "salad[a=1,a=2]",
        "sa lad",
        "[a=1]",
        "salad[a=1]]",
    ],
)
def test_malformed_entries_name_the_entry(bad):
    with pytest.raises(ParamError) as info:
        parse_entry(bad)
    assert "malformed" in str(info.value) or "twice" in str(info.value)


def test_split_entries_keeps_brackets_together():
    assert split_entries("ae,salad[a=1,b=2], vae") == ["ae", "salad[a=1,b=2]", "vae"]
    with pytest.raises(ParamError):
        split_entries("ae,,vae")


def test_parse_assignment():
    assert parse_assignment("salad.ssl=none") == ("salad", "ssl", "none")
    for bad in ("salad=1", "salad.=1", "salad.ssl=", ".ssl=1"):
        with pytest.raises(ParamError, match="NAME.KEY=VALUE"):
            parse_assignment(bad)


def test_coerce_by_type_of_default():
    assert coerce("m", "k", "3", 1) == 3
    assert coerce("m", "k", "0.5", 1.0) == 0.5
    assert coerce("m", "k", 2, 1.0) == 2.0
    assert coerce("m", "k", "yes", False) is True
    with pytest.raises(ParamError, match="m: parameter 'k' expects int"):
        coerce("m", "k", "three", 1)
    with pytest.raises(ParamError, match="must be one of a, b"):
        coerce("m", "k", "c", "a", ("a", "b"))


_key = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
_value = st.from_regex(r"[A-Za-z0-9_.\-]{1,8}", fullmatch=True)


@given(st.dictionaries(_key, _value, max_size=5))
def test_label_round_trips_through_the_parser(params):
    assert parse_entry(label("salad", params)) == ("salad", params)


def test_a_parameter_named_like_a_method_is_refused():
    import benchbox

    class Shadowing(benchbox.Method):
        name = "shadowing"
        params = {"score": "x"}  # would hide Method.score

    with pytest.raises(ParamError, match="'score' is named like a method"):
        Shadowing()


def test_grid_rows_must_name_each_entry(tmp_path):
    from benchbox import grids

    path = tmp_path / "grids.toml"
    path.write_text('[grids.t]\nmethods = ["ae", "vae"]\nrows = ["only one"]\n')
    with pytest.raises(ParamError, match="'rows' must name each of its 2 method entries"):
        grids.row_names(grids.load(path), "t")
    path.write_text('[grids.t]\nmethods = ["ae", "vae"]\n')
    assert grids.row_names(grids.load(path), "t") == ["ae", "vae"]


def test_plugins_contribute_grids_and_two_may_not_share_a_name(tmp_path):
    from types import SimpleNamespace

    from benchbox import grids
    from benchbox.errors import BenchboxError
    from benchbox.hookspecs import hookimpl
    from benchbox.plugins import Plugins

    plugins = Plugins(load_entry_points=False)
    config = plugins.grid_config()
    assert config["source"][("grids", "table3")].endswith("salad/grids.toml")  # SALAD's, not the core's
    assert grids.preset(config, "paper")["epochs"] == 200
    assert list(grids.row_order(config))[:6] == ["ae", "vae", "fanogan", "ganomaly", "ssim_ae", "salad"]

    (tmp_path / "mine.toml").write_text('[grids.mine]\nmethods = ["pca", "knn"]\n')
    plugin = SimpleNamespace(benchbox_register_grids=hookimpl(lambda register: register(tmp_path / "mine.toml")))
    plugins.register(plugin, "mine")
    assert grids.grid(plugins.grid_config(), "mine") == ["pca", "knn"]
    (tmp_path / "clash.toml").write_text('[grids.table1]\nmethods = ["pca"]\n')
    clash = SimpleNamespace(benchbox_register_grids=hookimpl(lambda register: register(tmp_path / "clash.toml")))
    plugins.register(clash, "clash")
    with pytest.raises(BenchboxError, match="grid 'table1' is defined by .*methods/grids.toml and by .*clash.toml"):
        plugins.grid_config()
