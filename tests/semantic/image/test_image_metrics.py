"""PSNR and MS-SSIM reference checks."""

import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from semcom_ota.eval.image_metrics import ms_ssim, n_scales_for, psnr_db


@pytest.fixture
def pair(rng):
    a = data.astronaut()[:200, :240]
    b = np.clip(a + rng.normal(0, 15, a.shape), 0, 255).astype(np.uint8)
    return a, b


def test_identical_images_score_one(pair):
    a, _ = pair
    assert ms_ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert psnr_db(a, a) == np.inf


def test_single_scale_equals_skimage_ssim(pair):
    a, b = pair
    ref = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=255, channel_axis=-1)
    assert ms_ssim(a, b, scales=1) == pytest.approx(ref, abs=1e-9)


def test_psnr_equals_skimage(pair):
    a, b = pair
    assert psnr_db(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-9)


def test_ms_ssim_is_the_weighted_product_of_scale_terms(pair):
    # with 2 scales: cs(scale 1)^w1' · ssim(scale 2)^w2', w' = first two standard weights renormalised
    a, b = pair
    w = np.array([0.0448, 0.2856]) / (0.0448 + 0.2856)
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1, full=True)
    # cs at scale 1 = SSIM with a huge C1 (luminance term -> 1)
    cs_maps = []
    for c in range(3):
        x, y = a[..., c].astype(np.float64), b[..., c].astype(np.float64)
        from scipy.ndimage import gaussian_filter
        f = lambda z: gaussian_filter(z, 1.5, truncate=3.5)[5:-5, 5:-5]  # noqa: E731
        mx, my = f(x), f(y)
        sxy, sxx, syy = f(x * y) - mx * my, f(x * x) - mx**2, f(y * y) - my**2
        c2 = (0.03 * 255) ** 2
        cs_maps.append(((2 * sxy + c2) / (sxx + syy + c2)).mean())
    del kw
    # scale 2: SSIM on 2x2-average-pooled images (per channel)
    pool = lambda z: z.astype(np.float64).reshape(z.shape[0] // 2, 2, z.shape[1] // 2, 2, 3).mean(axis=(1, 3))  # noqa: E731
    a2, b2 = pool(a), pool(b)
    s2 = [structural_similarity(a2[..., c], b2[..., c], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=255) for c in range(3)]
    expected = np.mean([cs_maps[c] ** w[0] * s2[c] ** w[1] for c in range(3)])
    assert ms_ssim(a, b, scales=2) == pytest.approx(expected, abs=1e-6)


def test_more_noise_lowers_both_metrics(pair, rng):
    a, b = pair
    worse = np.clip(a + rng.normal(0, 40, a.shape), 0, 255).astype(np.uint8)
    assert ms_ssim(a, worse) < ms_ssim(a, b) < 1.0
    assert psnr_db(a, worse) < psnr_db(a, b)


def test_scales_shrink_for_small_images():
    assert n_scales_for(256, 256) == 5
    assert n_scales_for(128, 128) == 4
    assert n_scales_for(11, 40) == 1
    with pytest.raises(ValueError, match="too small"):
        n_scales_for(8, 8)


def test_batches_give_one_value_per_image(pair):
    a, b = pair
    vals = ms_ssim(np.stack([a, a]), np.stack([a, b]))
    assert vals.shape == (2,) and vals[0] == pytest.approx(1.0) and vals[1] == pytest.approx(ms_ssim(a, b), abs=1e-6)


def test_bad_inputs_raise_clear_errors(pair):
    a, _ = pair
    with pytest.raises(ValueError, match="shapes differ"):
        ms_ssim(a, a[:100])
    with pytest.raises(TypeError, match="dtype"):
        psnr_db(a.astype(np.int32), a.astype(np.int32))
    with pytest.raises(TypeError, match="numpy array"):
        ms_ssim([[1]], [[1]])
    with pytest.raises(ValueError, match="scales=6"):
        ms_ssim(a, a, scales=6)
