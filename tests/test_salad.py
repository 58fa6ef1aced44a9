"""SALAD's pieces: the three perturbations, the center update and every ablation switch."""

import pytest
import torch

from benchbox.errors import ParamError
from benchbox.methods.salad import perturb as P
from benchbox.methods.salad.method import SALAD
from benchbox.methods.salad.model import SALADNets

SMALL = {"width": 8, "max_width": 16, "latent_dim": 8, "patch_width": 8, "mlp_hidden": 8}


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def images(n=8, size=64):
    return torch.rand(n, 1, size, size) * 2 - 1


def test_inpaint_areas_within_paper_bounds():
    size = 64
    x = torch.full((200, 1, size, size), 5.0)  # outside [-1, 1]: noise is recognisable
    y = P.inpaint(x, n_tiles=1)
    for img in y[:, 0]:
        changed = img != 5.0
        area = int(changed.sum())
        assert size * size / 64 <= area <= size * size / 25
        rows, cols = changed.any(1).nonzero(), changed.any(0).nonzero()
        assert area == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)  # a rectangle
    assert y[y != 5.0].abs().max() <= 1.0  # uniform noise in [-1, 1]


def test_inpaint_five_tiles_shape_and_range():
    x = images()
    y = P.inpaint(x)
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1 and not torch.equal(x, y)


def test_local_shuffle_only_permutes_inside_tiles():
    size = 40
    x = torch.arange(size * size, dtype=torch.float32).view(1, 1, size, size).repeat(4, 1, 1, 1)
    y = P.local_shuffle(x)
    for img in y[:, 0]:
        assert torch.equal(img.flatten().sort().values, x[0, 0].flatten())  # a permutation
        moved = (img != x[0, 0]).nonzero()
        source = img[moved[:, 0], moved[:, 1]].long()
        # each moved pixel came from within one tile: at most H/10 - 1 rows/cols away
        assert (moved[:, 0] - source // size).abs().max() < size // 10
        assert (moved[:, 1] - source % size).abs().max() < size // 10
    assert (y != x).any()


def test_bezier_monotone_when_control_points_are():
    control = torch.tensor([[[0.0, 0.0], [0.2, 0.1], [0.5, 0.6], [0.7, 0.8], [1.0, 1.0]]])
    levels = torch.linspace(0, 1, 256).view(1, -1)
    mapped = P.intensity_map(control, levels)
    assert (mapped.diff(dim=1) >= -1e-6).all()
    assert mapped[0, 0].item() == pytest.approx(0.0, abs=1e-6) and mapped[0, -1].item() == pytest.approx(1.0, abs=1e-6)
    points = P.random_control_points(16, "cpu")
    assert points.shape == (16, 5, 2)  # two fixed ends and three random control points
    assert (points[:, :, 0].diff(dim=1) >= 0).all()


def test_nonlinear_intensity_range_and_perturb_mixes():
    x = images(64)
    y = P.nonlinear_intensity(x)
    assert y.min() >= -1 and y.max() <= 1
    z = P.perturb(x)
    assert z.shape == x.shape and not torch.equal(z, x)


def built(**params) -> SALAD:
    """A SALAD whose networks exist (as ``fit`` builds them) but are untrained, at 32×32."""
    method = SALAD(**SMALL, **params)
    method.nets_ = torch.nn.ModuleDict()
    method.optimizers_ = []
    method.device_ = torch.device("cpu")
    method.build(32)
    return method


def test_center_update_moves_towards_features():
    method = built(center_lr=0.5)
    z = torch.ones(3, 8)
    method.update_center(z)
    # C ← C − λ Σ(C − z)/(1 + m) = 0 − 0.5 · (−3)/4
    assert torch.allclose(method.nets_["salad"].center, torch.full((8,), 0.375))


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_ssl_switches_build_what_they_should():
    none = SALADNets(32, 8, 8, 16, "none")
    own = SALADNets(32, 8, 8, 16, "shared_encoder")
    both = SALADNets(32, 8, 8, 16, "shared_encoder_decoder")
    last = SALADNets(32, 8, 8, 16, "shared_encoder_last_layers", shared_layers=2)
    assert none.restorer is None
    assert own.restorer is not own.decoder and count(own) == count(none) + count(own.decoder)
    assert both.restorer is both.decoder and count(both) == count(none)
    assert last.restorer.head is last.decoder.head
    assert last.restorer.hidden[-3] is last.decoder.hidden[-3]
    assert last.restorer.hidden[0] is not last.decoder.hidden[0]
    assert count(none) < count(last) < count(own)


@pytest.mark.parametrize(
    "setting, present, absent",
    [
        ({}, {"adv", "img", "fea", "ct", "self"}, set()),
        ({"ssl": "none"}, {"adv", "img", "fea", "ct"}, {"self"}),
    ],
)
def test_losses_follow_switches(setting, present, absent):
    method = built(**setting)
    losses = method.train_step(images(4, 32))
    assert present <= set(losses) and not absent & set(losses)


def test_image_loss_and_feature_constraint_switches():
    x = images(4, 32)
    x_hat = images(4, 32)
    assert SALAD(image_loss="l1").image_loss_fn(x, x_hat) == pytest.approx((x - x_hat).abs().mean().item())
    assert SALAD(image_loss="ssim").image_loss_fn(x, x).item() == pytest.approx(0.0, abs=1e-5)
    z = torch.randn(16, 8)
    center = torch.zeros(8)
    assert SALAD(feature_constraint="none").feature_constraint_fn(z, center).item() == 0.0
    assert SALAD(feature_constraint="center").feature_constraint_fn(z, center).item() == pytest.approx(
        0.5 * z.pow(2).sum(1).mean().item()
    )
    standard = torch.randn(4096, 8)
    assert SALAD(feature_constraint="kl").feature_constraint_fn(standard, center).item() < 0.05


@pytest.mark.parametrize("kind", ["feature", "image", "center"])
def test_score_switch(kind):
    from benchbox.conformance import tiny_data

    train, test = tiny_data(32, n_train=16, n_test=8)
    method = SALAD(**SMALL, epochs=1, batch_size=8, anomaly_score=kind).fit(train)
    nets = method.nets_["salad"]
    with torch.no_grad():
        x = test.images.float() / 127.5 - 1
        z = nets.encoder(x)
        expected = {
            "feature": (z - nets.encoder(nets.decoder(z))).abs().mean(1),
            "image": (x - nets.decoder(z)).abs().flatten(1).mean(1),
            "center": (z - nets.center).abs().mean(1),
        }[kind]
    assert torch.allclose(torch.from_numpy(method.score(test)).float(), expected, atol=1e-5)


def test_old_spelling_of_the_anomaly_score_parameter_is_accepted():
    """`score` was renamed (it hid the method `score`); `salad[score=image]` still works."""
    assert SALAD(score="image").get_params()["anomaly_score"] == "image"
    assert callable(SALAD(score="image").score)
    with pytest.raises(ParamError, match="not both"):
        SALAD(score="image", anomaly_score="center")
