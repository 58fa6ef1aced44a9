import os

import pytest

import benchbox
from benchbox.errors import BenchboxError, UnknownName
from benchbox.plugins import Plugins

from .conftest import run_cli


class Plugin:
    """A throw-away in-process plugin."""

    def __init__(self, *classes):
        self.classes = classes

    @benchbox.hookimpl
    def benchbox_register_methods(self, register):
        for cls in self.classes:
            register(cls)


class Other(benchbox.Method):
    name = "ae"  # clashes with the built-in


def test_builtins_register_through_the_hooks(plugins):
    assert {"ae", "vae", "ssim_ae", "fanogan", "ganomaly", "salad"} <= set(plugins.methods.names())
    assert "synthetic" in plugins.datasets.names()
    provider = plugins.methods.provider("ae")
    assert provider.plugin == "benchbox.methods" and provider.distribution == "benchbox-ad"


def test_unknown_name_lists_known(plugins):
    with pytest.raises(UnknownName, match="known methods: .*ae"):
        plugins.methods.get("nope")


def test_duplicate_name_names_both_providers(plugins):
    plugins.register(Plugin(Other), name="clash-plugin", distribution="clash-dist", version="9")
    with pytest.raises(BenchboxError) as info:
        plugins.methods.names()
    assert "benchbox.methods" in str(info.value) and "clash-plugin (clash-dist 9)" in str(info.value)


def test_entry_point_plugin_is_discovered(fake_install):
    plugins = Plugins()
    assert "mean_intensity" in plugins.methods.names()
    provider = plugins.methods.provider("mean_intensity")
    assert (provider.distribution, provider.version) == ("benchbox-mean-intensity", "0.1.0")


def test_entry_point_plugin_in_cli_and_table(fake_install, tmp_path):
    run = run_cli(
        "run",
        "--methods",
        "mean_intensity",
        "--seeds",
        "0,1",
        "--results-dir",
        str(tmp_path / "r"),
        "--param",
        "synthetic.n_train=64",
        "--param",
        "synthetic.n_test=32",
    )
    assert run.returncode == 0, run.stderr
    assert "| mean_intensity" in run.stdout
    plugins_listing = run_cli("plugins")
    assert plugins_listing.returncode == 0, plugins_listing.stderr
    assert "benchbox-mean-intensity 0.1.0\tmethod mean_intensity" in plugins_listing.stdout
    assert "benchbox.methods" in plugins_listing.stdout


def test_a_misspelled_hook_is_an_error_naming_it():
    import types

    import benchbox
    from benchbox.errors import BenchboxError
    from benchbox.plugins import Plugins

    plugin = types.ModuleType("benchbox_typo")

    @benchbox.hookimpl
    def benchbox_register_method(register):  # no "s": not a benchbox hook
        pass

    plugin.benchbox_register_method = benchbox_register_method
    plugins = Plugins(load_entry_points=False)
    with pytest.raises(BenchboxError, match="unknown hook 'benchbox_register_method'.*benchbox_register_methods"):
        plugins.register(plugin, name="benchbox_typo")
    assert "ae" in plugins.methods  # the broken plugin is not left half-registered
    assert plugins.pm.get_plugin("benchbox_typo") is None and not plugins.registered_by_hand()


def test_readme_check_method_call_works_for_a_method_without_epochs():
    """The README's `check_method(MyMethod, epochs=1)` on its own example, which declares no
    epochs: runner parameters apply only where declared, as in a run."""
    import sys

    from benchbox.conformance import check_method

    from .conftest import PLUGIN_SRC

    sys.path.insert(0, str(PLUGIN_SRC))
    try:
        import benchbox_mean_intensity

        check_method(benchbox_mean_intensity.MeanIntensity, epochs=1)
    finally:
        sys.path.remove(str(PLUGIN_SRC))
        sys.modules.pop("benchbox_mean_intensity", None)


def readme_blocks(language: str, guide: bool = True) -> dict[str, str]:
    """The code blocks of one language, in order, of the plugin guide (docs/plugins.md) or of
    the README's plugin section."""
    from .conftest import ROOT

    if guide:
        section = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    else:
        text = (ROOT / "README.md").read_text(encoding="utf-8")
        section = text[text.index("## Write a plugin") : text.index("## Layout")]
    blocks = section.split(f"```{language}\n")[1:]
    return {str(i): block[: block.index("```")] for i, block in enumerate(blocks)}


@pytest.mark.parametrize("guide", [True, False], ids=["docs/plugins.md", "README"])
def test_the_documented_plugin_is_the_test_fixture_byte_for_byte(guide):
    from .conftest import PLUGIN_SRC

    module_text = (PLUGIN_SRC / "benchbox_mean_intensity.py").read_text(encoding="utf-8")
    (module,) = [b for b in readme_blocks("python", guide).values() if b.startswith("# benchbox_mean_intensity.py\n")]
    assert module.removeprefix("# benchbox_mean_intensity.py\n") == module_text
    if guide:
        (toml,) = [b for b in readme_blocks("toml").values() if b.startswith("# pyproject.toml\n")]
        assert toml.removeprefix("# pyproject.toml\n") == (PLUGIN_SRC / "pyproject.toml").read_text(encoding="utf-8")


def test_the_readme_conformance_example_runs_as_written(tmp_path, monkeypatch):
    """The README's pytest example, written to a file and run by pytest."""
    import subprocess
    import sys

    from .conftest import PLUGIN_SRC

    (example,) = [b for b in readme_blocks("python").values() if "method_checks" in b]
    (tmp_path / "test_readme_example.py").write_text(example, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    from benchbox.conformance import method_checks
    from benchbox.methods.floors.method import PixelPCA

    assert f"{len(method_checks(PixelPCA))} passed" in result.stdout  # one test per conformance rule


BROKEN = {
    # distribution -> the plugin module's source
    "benchbox-missing-import": "import no_such_module_xyz\n",
    "benchbox-typo-hook": (
        "import benchbox\n\n@benchbox.hookimpl\ndef benchbox_register_method(register):  # no s\n    pass\n"
    ),
    "benchbox-failing-hook": (
        "import benchbox\n\n@benchbox.hookimpl\ndef benchbox_register_methods(register):\n"
        "    raise RuntimeError('cannot register today')\n"
    ),
}


@pytest.fixture
def broken_installs(tmp_path, monkeypatch):
    """Three installed plugins that fail to load, each its own way."""
    from .conftest import fake_distribution

    site = tmp_path / "site"
    for dist, source in BROKEN.items():
        module = dist.replace("-", "_")
        fake_distribution(site, dist, module.removeprefix("benchbox_"), module)
        (site / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p))
    yield site


def test_a_broken_installed_plugin_is_left_out_in_one_line(broken_installs, tmp_path):
    plugins = Plugins()
    assert "ae" in plugins.methods and "synthetic" in plugins.datasets
    assert set(plugins.broken) == {"missing_import", "typo_hook", "failing_hook"}
    assert "ModuleNotFoundError: No module named 'no_such_module_xyz'" in plugins.broken["missing_import"][2]
    assert "benchbox_register_method" in plugins.broken["typo_hook"][2]
    with pytest.raises(UnknownName, match="failing_hook \\(benchbox-failing-hook 0.1.0\\).*cannot register today"):
        plugins.methods.get("failing")
    run = run_cli("run", "--methods", "pca", "--seeds", "0", "--results-dir", str(tmp_path / "r"))
    assert run.returncode == 0, run.stderr
    assert "| pca" in run.stdout and "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if "failed to load and is left out" in line]
    assert len(lines) == 3 and any("benchbox-missing-import 0.1.0" in line for line in lines)
    listing = run_cli("plugins")
    assert listing.returncode == 0 and "benchbox-typo-hook 0.1.0\tBROKEN, left out:" in listing.stdout
    named = run_cli("run", "--methods", "missing", "--seeds", "0", "--results-dir", str(tmp_path / "r"))
    assert named.returncode == 2 and "unknown method 'missing'" in named.stderr
    assert "benchbox-missing-import 0.1.0), which may provide it, failed to load" in named.stderr


def test_the_documented_plugin_builds_and_installs_with_its_test_file_beside_it(tmp_path):
    """The guide's three files in one folder, built and installed by pip as a user would (no
    network: the build uses this environment's setuptools); the wheel holds the module alone
    and declares the entry point."""
    import subprocess
    import sys
    import zipfile

    from .conftest import PLUGIN_SRC

    project = tmp_path / "benchbox-mean-intensity"
    project.mkdir()
    for name in ("pyproject.toml", "benchbox_mean_intensity.py"):
        (project / name).write_text((PLUGIN_SRC / name).read_text(encoding="utf-8"), encoding="utf-8")
    (example,) = [b for b in readme_blocks("python").values() if b.startswith("# test_mean_intensity.py\n")]
    (project / "test_mean_intensity.py").write_text(example, encoding="utf-8")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(project)],
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "benchbox_mean_intensity.py" in names and "test_mean_intensity.py" not in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "mean_intensity = benchbox_mean_intensity" in zipfile.ZipFile(wheel).read(entry_points).decode()
    site = tmp_path / "site"
    installed = subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
                               capture_output=True, text=True, timeout=300)  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (site / "benchbox_mean_intensity.py").exists()


def test_an_edited_plugin_is_named_when_its_old_results_are_reused(tmp_path, monkeypatch):
    """The first trap of developing a method: its score() changed, the same command re-run,
    and the old results reused silently. benchbox says so, once per method, naming the two
    ways out; an untouched method says nothing."""
    from .conftest import PLUGIN_SRC, fake_distribution

    source = tmp_path / "src"
    source.mkdir()
    module = source / "benchbox_mean_intensity.py"
    module.write_text((PLUGIN_SRC / "benchbox_mean_intensity.py").read_text(encoding="utf-8"), encoding="utf-8")
    site = fake_distribution(tmp_path / "site", "benchbox-mean-intensity", "mean_intensity", "benchbox_mean_intensity")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(source), os.environ.get("PYTHONPATH", "")])}
    args = ["run", "--methods", "mean_intensity,pca", "--seeds", "0,1", "--results-dir", str(tmp_path / "r"),
            "--param", "synthetic.n_train=32", "--param", "synthetic.n_test=16"]  # fmt: skip
    assert run_cli(*args, env=env).returncode == 0
    unchanged = run_cli(*args, env=env)
    assert unchanged.returncode == 0 and "installed code differs" not in unchanged.stderr
    module.write_text(module.read_text().replace("** self.power", "** self.power * -1"), encoding="utf-8")
    edited = run_cli(*args, env=env)
    assert edited.returncode == 0, edited.stderr
    notes = [line for line in edited.stderr.splitlines() if "installed code differs" in line]
    assert len(notes) == 1 and "method mean_intensity" in notes[0] and "2 finished results" in notes[0]
    assert "--force" in notes[0] and "revision" in notes[0]
    assert "0 run, 3 already done" in edited.stderr  # a note: the results are still reused (pca: one run)
