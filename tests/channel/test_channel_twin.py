"""Differentiable channel twin: output convention, statistics, agreement with the NumPy simulator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from semcom_ota.channel.sim import add_awgn
from semcom_ota.channel.twin import (
    NOISE_VAR_MAX,
    ChannelTwin,
    ofdm_data_bins,
    power_normalise,
    sample_snr_db,
    to_complex,
    to_real,
    truncate_mask,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def unit_rows(b: int, n: int, seed: int = 0) -> torch.Tensor:
    return power_normalise(torch.randn(b, n, dtype=torch.complex64, generator=gen(seed)))


@pytest.mark.parametrize("kind", ["awgn", "rayleigh", "rician", "subcarrier"])
def test_gradient_flows_to_z(kind):
    z = unit_rows(8, 96).requires_grad_()
    z_hat, nv = ChannelTwin(kind)(z, torch.full((8,), 5.0), generator=gen(1))
    loss = (z_hat.abs() ** 2).sum()
    loss.backward()
    assert z.grad is not None and torch.isfinite(torch.view_as_real(z.grad)).all()
    assert z.grad.abs().min() > 0  # every symbol gets a gradient
    assert not nv.requires_grad


def test_real_input_round_trip_and_gradient():
    x = torch.randn(4, 32, 2, requires_grad=True)
    z_hat, nv = ChannelTwin("awgn")(x, 20.0, generator=gen())
    assert z_hat.shape == (4, 32, 2) and z_hat.dtype == torch.float32 and nv.shape == (4, 32)
    z_hat.sum().backward()
    assert torch.allclose(x.grad, torch.ones_like(x))
    z = to_complex(x.detach())
    assert torch.equal(to_real(z), x.detach())


def test_awgn_noise_var_is_n0_and_matches_empirical():
    snr = torch.tensor([0.0, 10.0, 20.0]).repeat_interleave(4)
    z = unit_rows(12, 20_000)
    z_hat, nv = ChannelTwin("awgn")(z, snr, generator=gen(2))
    n0 = 10 ** (-snr / 10)
    assert torch.allclose(nv, n0[:, None].expand_as(nv), rtol=1e-5)
    emp = ((z_hat - z).abs() ** 2).mean(dim=1)
    assert torch.allclose(emp, n0, rtol=0.04)
    assert z_hat.dtype == torch.complex64 and nv.dtype == torch.float32


def test_rayleigh_one_coefficient_per_row_and_var_matches():
    b, n, snr = 4000, 64, 10.0
    z = unit_rows(b, n, seed=3)
    z_hat, nv = ChannelTwin("rayleigh")(z, snr, generator=gen(4))
    assert torch.allclose(nv, nv[:, :1].expand_as(nv))  # block fading: constant along the row
    g2 = (10 ** (-snr / 10) / nv[:, 0]).double().numpy()  # |h|², except rows clipped at NOISE_VAR_MAX
    assert stats.kstest(g2[nv[:, 0].numpy() < NOISE_VAR_MAX], "expon").pvalue > 0.01
    # normalised error |e|²/noise_var has unit mean and is Exp(1): e ~ CN(0, noise_var)
    r = (((z_hat - z).abs() ** 2) / nv).double().flatten().numpy()
    assert abs(r.mean() - 1) < 0.02
    assert stats.kstest(r[:20_000], "expon").pvalue > 0.01


def test_rician_gain_mean_and_spread():
    z = unit_rows(20_000, 2, seed=5)
    _, nv = ChannelTwin("rician", rician_k_db=10.0)(z, 0.0, generator=gen(6))
    g2 = (1.0 / nv[:, 0]).double()
    assert abs(g2.mean().item() - 1) < 0.03
    k = 10.0
    r = (g2**2).mean() / g2.mean() ** 2
    assert r.item() == pytest.approx((k * k + 4 * k + 2) / (k + 1) ** 2, rel=0.03)


def test_coherence_symbols_blocks():
    z = unit_rows(3, 100)
    _, nv = ChannelTwin("rayleigh", coherence_symbols=25)(z, 10.0, generator=gen(7))
    blocks = nv.reshape(3, 4, 25)
    assert torch.allclose(blocks, blocks[..., :1].expand_as(blocks))
    assert len(torch.unique(blocks[0, :, 0])) == 4


@pytest.mark.parametrize("tdl", [None, "EPA", "EVA"])
def test_subcarrier_gains_repeat_per_ofdm_symbol(tdl):
    twin = ChannelTwin("subcarrier", n_subcarriers=48, tdl=tdl)
    z = unit_rows(2000, 48 * 3, seed=8)
    z_hat, nv = twin(z, 10.0, generator=gen(9))
    assert torch.allclose(nv[:, :48], nv[:, 48:96]) and torch.allclose(nv[:, :48], nv[:, 96:])
    h = twin.gains(4000, 48, gen(10))
    assert abs((h.abs() ** 2).mean().item() - 1) < 0.05  # unit mean power per subcarrier
    # adjacent-subcarrier correlation: zero when i.i.d., close to 1 for EPA (short delay spread)
    rho = (h[:, 1:] * h[:, :-1].conj()).mean().abs().item()
    if tdl is None:
        assert rho < 0.05
    elif tdl == "EPA":
        assert rho > 0.9
    else:
        assert 0.3 < rho < 0.99
    r = (((z_hat - z).abs() ** 2) / nv).mean().item()
    assert abs(r - 1) < 0.03


def test_ofdm_bins_match_the_phy_layout():
    b = ofdm_data_bins(48)
    assert len(b) == 48 and 0 not in b and 1 not in b and 8 not in b and -22 not in b and b.min() == -27
    assert len(ofdm_data_bins(12)) == 12 and 0 not in ofdm_data_bins(12)
    phy = pytest.importorskip("semcom_ota.phy.layout")
    from semcom_ota.phy.config import PhyConfig

    assert np.array_equal(ofdm_data_bins(48), phy.OfdmLayout(PhyConfig()).data)


def test_grid_index_follows_the_phy_permutation():
    phy = pytest.importorskip("semcom_ota.phy.layout")
    from semcom_ota.phy.config import PhyConfig

    layout = phy.OfdmLayout(PhyConfig())
    grid = layout.payload_index(8)  # 8 OFDM symbols x 48 data bins, permuted within blocks
    twin = ChannelTwin("subcarrier", tdl="EPA", grid_index=grid)
    z = unit_rows(5, grid.size)
    _, nv = twin(z, 10.0, generator=gen(30))
    sc = torch.as_tensor(grid % 48)
    for k in (0, 17, 47):  # every payload position on data bin k sees the same gain
        v = nv[:, sc == k]
        assert torch.allclose(v, v[:, :1].expand_as(v))
    assert not torch.allclose(nv[:, sc == 0][:, 0], nv[:, sc == 40][:, 0])
    with pytest.raises(ValueError, match="grid_index"):
        twin(unit_rows(2, grid.size + 1), 10.0)


def test_twin_and_numpy_sim_agree_on_awgn_noise_variance(rng):
    for snr_db in (-3.0, 7.5, 25.0):
        x = rng.standard_normal((2, 50_000)) + 1j * rng.standard_normal((2, 50_000))
        x /= np.sqrt(np.mean(np.abs(x) ** 2, axis=1, keepdims=True))
        x = x.astype(np.complex64)
        y = add_awgn(x.ravel(), snr_db, rng).reshape(x.shape)
        var_np = np.mean(np.abs(y - x) ** 2)
        zt = torch.from_numpy(x)
        z_hat, nv = ChannelTwin("awgn")(zt, snr_db, generator=gen(11))
        var_t = ((z_hat - zt).abs() ** 2).mean().item()
        assert var_t == pytest.approx(var_np, rel=0.03)
        assert nv.mean().item() == pytest.approx(var_np, rel=0.03)


def test_signal_power_is_measured_per_row():
    z = unit_rows(2, 40_000) * torch.tensor([[1.0], [3.0]])
    z_hat, nv = ChannelTwin("awgn")(z, 10.0, generator=gen(12))
    assert torch.allclose(nv[:, 0], torch.tensor([0.1, 0.9]), rtol=1e-4)


def test_mask_zeroes_missing_symbols():
    z = unit_rows(6, 30)
    mask = truncate_mask(6, 30, [10, 20, 30], generator=gen(13))
    z_hat, nv = ChannelTwin("rayleigh")(z, 10.0, mask=mask, generator=gen(14))
    assert torch.all(z_hat[~mask] == 0) and torch.all(nv[~mask] == NOISE_VAR_MAX)
    assert torch.isfinite(nv).all()
    # P_s is measured on received symbols only: blowing up the dropped tail changes nothing
    z_loud = torch.where(mask, z, 100 * z)
    _, nv_loud = ChannelTwin("rayleigh")(z_loud, 10.0, mask=mask, generator=gen(14))
    assert torch.allclose(nv_loud, nv)
    _, nv_nomask = ChannelTwin("rayleigh")(z_loud, 10.0, generator=gen(14))
    cut = ~mask.all(dim=1)  # rows that lost their tail
    assert cut.any()
    assert (nv_nomask[cut][:, 0] > 10 * nv[cut][:, 0]).all()


def test_truncate_mask_only_at_tier_boundaries():
    m = truncate_mask(3000, 50, [5, 20, 50], generator=gen(15))
    kept = m.sum(dim=1)
    assert set(kept.tolist()) == {5, 20, 50}
    assert torch.all(m == (torch.arange(50)[None] < kept[:, None]))  # a prefix is kept
    counts = torch.bincount(kept)[[5, 20, 50]].double()
    assert torch.all((counts / 3000 - 1 / 3).abs() < 0.04)
    m = truncate_mask(2000, 50, [5, 50], generator=gen(16), probs=[0.0, 1.0])
    assert m.all()
    for bad in ([], [5, 5], [0, 10], [10, 60]):
        with pytest.raises(ValueError, match="tier_ends"):
            truncate_mask(2, 50, bad)


def test_sample_snr_db_uniform():
    s = sample_snr_db(20_000, -2.0, 18.0, generator=gen(17))
    assert s.shape == (20_000,) and s.dtype == torch.float32
    assert s.min() >= -2 and s.max() <= 18
    assert stats.kstest(s.numpy(), "uniform", args=(-2, 20)).pvalue > 0.01
    with pytest.raises(ValueError, match="SNR range"):
        sample_snr_db(4, 10, 0)


def test_power_normalise():
    z = torch.randn(5, 77, dtype=torch.complex64) * 4
    z.requires_grad_()
    p = power_normalise(z)
    assert torch.allclose((p.abs() ** 2).mean(dim=1), torch.ones(5), atol=1e-5)
    p.real.sum().backward()
    assert z.grad is not None


def test_generator_determinism():
    z = unit_rows(4, 64)
    a = ChannelTwin("subcarrier", tdl="EVA")(z, 5.0, generator=gen(3))
    b = ChannelTwin("subcarrier", tdl="EVA")(z, 5.0, generator=gen(3))
    c = ChannelTwin("subcarrier", tdl="EVA")(z, 5.0, generator=gen(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])


def test_bad_inputs_raise_clear_errors():
    twin = ChannelTwin("awgn")
    z = unit_rows(2, 8)
    with pytest.raises(TypeError, match="z: expected"):
        twin(torch.ones(2, 8, dtype=torch.int64), 10.0)
    with pytest.raises(TypeError, match="z: expected"):
        twin(np.ones((2, 8), np.complex64), 10.0)
    with pytest.raises(ValueError, match=r"shape \[B, n\]"):
        twin(torch.ones(8, dtype=torch.complex64), 10.0)
    with pytest.raises(ValueError, match="snr_db"):
        twin(z, float("nan"))
    with pytest.raises(ValueError, match="snr_db"):
        twin(z, torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="snr_db"):
        twin(z, "high")
    with pytest.raises(ValueError, match="NaN"):
        twin(torch.full((2, 8), math.nan, dtype=torch.complex64), 10.0)
    with pytest.raises(ValueError, match="mask"):
        twin(z, 10.0, mask=torch.ones(2, 8))
    with pytest.raises(ValueError, match="kind"):
        ChannelTwin("nakagami")
    with pytest.raises(ValueError, match="tdl"):
        ChannelTwin("rayleigh", tdl="EPA")


def test_twin_rayleigh_matches_sim_with_perfect_csi_equalisation(rng):
    """Equalise the NumPy simulator's Rayleigh output with its true h: same noise_var law as the twin."""
    from semcom_ota.channel.sim import ChannelConfig, ChannelSimulator

    snr_db, frames, n = 6.0, 1500, 64
    sim = ChannelSimulator(ChannelConfig(snr_db=snr_db, fading="rayleigh"), seed=21)
    nv_sim = np.empty(frames)
    err = np.empty(frames)
    for f in range(frames):
        x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
        x /= np.sqrt(np.mean(np.abs(x) ** 2))
        y = sim.apply(x)
        h = complex(sim.last_taps[0, 0])
        z_hat = y / h  # zero-forcing with perfect CSI: unbiased
        nv_sim[f] = sim.last_noise_var / abs(h) ** 2
        err[f] = np.mean(np.abs(z_hat - x) ** 2) / nv_sim[f]
    assert err.mean() == pytest.approx(1.0, abs=0.03)
    z = unit_rows(frames, n, seed=22)
    _, nv_twin = ChannelTwin("rayleigh")(z, snr_db, generator=gen(23))
    # two-sample KS on log noise variance: same distribution
    assert stats.ks_2samp(np.log(nv_sim), np.log(nv_twin[:, 0].double().numpy())).pvalue > 0.01
