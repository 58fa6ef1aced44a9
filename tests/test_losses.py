"""SSIM (Wang et al. 2004), as SSIM-AE and SALAD use it: the formula, and the depthwise
convolution that computes it against the dense one-channel one it replaced."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchbox.methods.losses import DYNAMIC_RANGE, K1, K2, _gaussian_window, ssim, ssim_map

C1_C2 = ((K1 * DYNAMIC_RANGE) ** 2, (K2 * DYNAMIC_RANGE) ** 2)


def reference_ssim(x: np.ndarray, y: np.ndarray, window: int = 11, sigma: float = 1.5) -> np.ndarray:
    """Mean SSIM per image of intensities x, y in [0, 1] from the definition (L = 1), in
    float64, one local window at a time."""
    coords = np.arange(window) - (window - 1) / 2
    g = np.exp(-(coords**2) / (2 * sigma**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = C1_C2
    out = []
    for a, b in zip(x[:, 0], y[:, 0]):
        values = []
        for i in range(a.shape[0] - window + 1):
            for j in range(a.shape[1] - window + 1):
                pa, pb = a[i : i + window, j : j + window], b[i : i + window, j : j + window]
                mu_a, mu_b = (w * pa).sum(), (w * pb).sum()
                var_a, var_b = (w * pa * pa).sum() - mu_a**2, (w * pb * pb).sum() - mu_b**2
                cov = (w * pa * pb).sum() - mu_a * mu_b
                values.append(
                    (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
                )
        out.append(np.mean(values))
    return np.array(out)


def test_ssim_matches_its_definition():
    torch.manual_seed(0)
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    y = (x + 0.3 * torch.randn_like(x)).clamp(-1, 1)
    as_intensity = lambda t: ((t.double() + 1) / 2).numpy()  # noqa: E731
    np.testing.assert_allclose(ssim(x, y).numpy(), reference_ssim(as_intensity(x), as_intensity(y)), atol=1e-5)
    assert torch.allclose(ssim(x, x), torch.ones(3))


def test_ssim_luminance_compares_intensities_not_signed_values():
    """Two flat images at 0.55 and 0.45 of the intensity range ([-1, 1] values +0.1 and −0.1):
    structure and contrast are perfect, so SSIM is the luminance term of the intensities,
    (2·0.55·0.45 + c1)/(0.55² + 0.45² + c1) ≈ 0.98. On the signed values it would be
    (−0.02 + c1)/(0.02 + c1) < 0."""
    x = torch.full((1, 1, 16, 16), 0.1, dtype=torch.float64)  # float64: E[x²] − μ² cancels exactly
    y = torch.full((1, 1, 16, 16), -0.1, dtype=torch.float64)
    c1 = (K1 * DYNAMIC_RANGE) ** 2
    expected = (2 * 0.55 * 0.45 + c1) / (0.55**2 + 0.45**2 + c1)
    assert ssim(x, y).item() == pytest.approx(expected, abs=1e-6)
    assert expected > 0.97
    # The same pair of intensities one step darker is a different pair of brightnesses.
    darker = ssim(x - 0.5, y - 0.5).item()
    assert darker < expected


def dense_ssim_map(x, y, window=11, sigma=1.5):
    """The dense one-channel convolution that earlier versions used (committed results were
    made with it)."""
    w = _gaussian_window(window, sigma, "cpu", x.dtype)
    c1, c2 = C1_C2
    x, y = (x + 1) * 0.5, (y + 1) * 0.5
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    n, ch = x.shape[0], x.shape[1]
    moments = F.conv2d(stacked.reshape(n * 5 * ch, 1, *x.shape[-2:]), w).view(
        n, 5, ch, *(s - window + 1 for s in x.shape[-2:])
    )
    mu_x, mu_y, xx, yy, xy = moments.unbind(1)
    var_x, var_y, cov = xx - mu_x * mu_x, yy - mu_y * mu_y, xy - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


@pytest.mark.parametrize("size", [32, 64])
def test_depthwise_ssim_agrees_with_the_dense_convolution(size):
    """Values and gradients (what training sees). On the development CPU they are equal to
    the bit; the bound here leaves room for other CPUs' kernels."""
    torch.manual_seed(1)
    x = torch.rand(64, 1, size, size) * 2 - 1
    recon = (x + 0.2 * torch.randn_like(x)).requires_grad_(True)
    ours = ssim_map(x, recon)
    ours.mean().backward()
    grad_ours = recon.grad.clone()
    recon.grad = None
    dense = dense_ssim_map(x, recon)
    dense.mean().backward()
    assert (ours - dense).abs().max().item() < 1e-6
    assert (grad_ours - recon.grad).abs().max().item() < 1e-9
