"""NumPy channel simulator: each impairment measured against its textbook definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from semcom_ota.channel.sim import (
    PRESETS,
    ChannelConfig,
    ChannelSimulator,
    add_awgn,
    channels,
    draw_fading_taps,
    exponential_power_profile,
    fractional_resample,
    iq_image_rejection_db,
    preset_config,
    rms_delay_spread_s,
    tdl_power_profile,
    tdl_taps,
)
from semcom_ota.config import ConfigError, load_yaml


def qpsk(n: int, rng: np.random.Generator, amp: float = 1.0) -> np.ndarray:
    bits = rng.integers(0, 2, (n, 2))
    return (amp * ((2 * bits[:, 0] - 1) + 1j * (2 * bits[:, 1] - 1)) / math.sqrt(2)).astype(np.complex64)


def tone(n: int, f: float) -> np.ndarray:
    return np.exp(2j * np.pi * f * np.arange(n)).astype(np.complex64)


# ------------------------------------------------------------------ AWGN


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 12.5, 30.0])
def test_awgn_measured_snr_uses_active_samples(rng, snr_db):
    x = qpsk(200_000, rng, amp=0.3)
    x[::4] = 0  # idle samples must not lower P_s
    y = add_awgn(x, snr_db, rng)
    assert y.dtype == np.complex64 and y.shape == x.shape
    noise = (y - x).astype(np.complex128)
    p_active = np.mean(np.abs(x[x != 0]) ** 2)
    measured = 10 * np.log10(p_active / np.mean(np.abs(noise) ** 2))
    assert abs(measured - snr_db) < 0.1
    # noise is circular: equal power in I and Q, uncorrelated
    assert abs(np.var(noise.real) / np.var(noise.imag) - 1) < 0.03
    assert abs(np.mean(noise.real * noise.imag)) < 0.02 * np.mean(np.abs(noise) ** 2)


def test_awgn_signal_power_overrides_measurement(rng):
    x = qpsk(100_000, rng)
    y = add_awgn(x, 10.0, rng, signal_power=4.0)
    assert abs(np.mean(np.abs(y - x) ** 2) / 0.4 - 1) < 0.02


def test_simulator_awgn_noise_on_idle_samples(rng):
    x = np.zeros(100_000, np.complex64)
    x[:50_000] = qpsk(50_000, rng, amp=0.5)
    sim = ChannelSimulator(ChannelConfig(snr_db=10.0), seed=3)
    y = sim.apply(x)
    assert sim.last_signal_power == pytest.approx(0.25, rel=1e-5)
    assert sim.last_noise_var == pytest.approx(0.025, rel=1e-5)
    assert np.mean(np.abs(y[50_000:]) ** 2) == pytest.approx(0.025, rel=0.03)  # noise between frames too


def test_simulator_all_zero_first_buffer_needs_signal_power():
    sim = ChannelSimulator(ChannelConfig(snr_db=10.0))
    with pytest.raises(ValueError, match="signal_power"):
        sim.apply(np.zeros(100, np.complex64))
    sim = ChannelSimulator(ChannelConfig(snr_db=10.0, signal_power=2.0), seed=1)
    y = sim.apply(np.zeros(100_000, np.complex64))
    assert np.mean(np.abs(y) ** 2) == pytest.approx(0.2, rel=0.03)


# ------------------------------------------------------------------ fading


def test_rayleigh_gain_is_exponential(rng):
    sim = ChannelSimulator(ChannelConfig(fading="rayleigh", block_len_samples=1), seed=5)
    h = sim.apply(np.ones(20_000, np.complex64))  # one independent draw per sample
    g = np.abs(h.astype(np.complex128)) ** 2
    assert abs(g.mean() - 1) < 0.03
    assert stats.kstest(g, "expon").pvalue > 0.01
    # phase uniform
    assert stats.kstest(np.angle(h), "uniform", args=(-np.pi, 2 * np.pi)).pvalue > 0.01
    # and not Rician (the test can tell)
    sim_r = ChannelSimulator(ChannelConfig(fading="rician", rician_k_db=6, block_len_samples=1), seed=5)
    g_r = np.abs(sim_r.apply(np.ones(20_000, np.complex64))) ** 2
    assert stats.kstest(g_r, "expon").pvalue < 1e-6


@pytest.mark.parametrize("k_db", [0.0, 6.0, 10.0])
def test_rician_k_factor(k_db):
    sim = ChannelSimulator(ChannelConfig(fading="rician", rician_k_db=k_db, block_len_samples=1), seed=11)
    h = sim.apply(np.ones(200_000, np.complex64)).astype(np.complex128)
    g = np.abs(h) ** 2
    assert abs(g.mean() - 1) < 0.02
    r = np.mean(g**2) / np.mean(g) ** 2  # = (K²+4K+2)/(K+1)² for Rician
    a = math.sqrt(max(2 - r, 1e-12))
    k_hat = a / (1 - a)
    assert abs(10 * math.log10(k_hat) - k_db) < 0.5


def test_block_fading_once_per_call_and_per_block():
    sim = ChannelSimulator(ChannelConfig(fading="rayleigh"), seed=2)
    y = sim.apply(np.ones(1000, np.complex64))
    assert np.allclose(y, y[0]) and sim.last_taps.shape == (1, 1)
    y2 = sim.apply(np.ones(1000, np.complex64))
    assert not np.isclose(y2[0], y[0])  # redrawn on the next call
    sim = ChannelSimulator(ChannelConfig(fading="rayleigh", block_len_samples=100), seed=2)
    y = sim.apply(np.ones(1000, np.complex64)).reshape(10, 100)
    assert np.allclose(y, y[:, :1]) and len(np.unique(y[:, 0])) == 10
    assert np.allclose(y[:, 0], sim.last_taps[:, 0])


def test_multipath_impulse_response_is_the_taps():
    sim = ChannelSimulator(ChannelConfig(fading="rayleigh", profile="EVA"), seed=9)
    x = np.zeros(100, np.complex64)
    x[0] = 1
    y = sim.apply(x)
    assert y.size == 100 + sim.n_taps - 1
    assert np.allclose(y[: sim.n_taps], sim.last_taps[0], atol=1e-6)
    # the taps sit where the profile has power, nowhere else
    assert np.all((np.abs(sim.last_taps[0]) > 0) == (sim.cfg.power_profile() > 0))


def test_time_varying_multipath_matches_per_block_convolution(rng):
    cfg = ChannelConfig(fading="rayleigh", profile="EPA", block_len_samples=64)
    sim = ChannelSimulator(cfg, seed=4)
    x = qpsk(640, rng)
    y = sim.apply(x)
    taps = sim.last_taps
    # direct definition y[n] = sum_l h[block(n), l] x[n-l]
    ref = np.zeros(y.size, np.complex128)
    for n in range(y.size):
        for l in range(taps.shape[1]):
            if 0 <= n - l < x.size:
                ref[n] += taps[n // 64, l] * x[n - l]
    assert np.allclose(y, ref, atol=1e-5)


# ------------------------------------------------------------------ delay profiles


@pytest.mark.parametrize("profile,spread_ns", [("EPA", 43), ("EVA", 357), ("ETU", 991)])
@pytest.mark.parametrize("fs", [20e6, 30.72e6])
def test_tdl_unit_power_and_delay_spread(profile, spread_ns, fs, rng):
    p = tdl_power_profile(profile, fs)
    assert p.sum() == pytest.approx(1.0)
    h = np.stack([tdl_taps(profile, fs, rng) for _ in range(4000)])
    assert h.dtype == np.complex64
    assert np.mean(np.sum(np.abs(h) ** 2, axis=1)) == pytest.approx(1.0, abs=0.05)
    pdp = np.mean(np.abs(h) ** 2, axis=0)
    # 3GPP TS 36.101 quotes 43 / 357 / 991 ns; tap rounding at these rates stays within 6 %
    assert rms_delay_spread_s(pdp, fs) * 1e9 == pytest.approx(spread_ns, rel=0.08)


def test_exponential_profile_rms_delay():
    fs = 20e6
    for tau in (50e-9, 200e-9, 1e-6):
        p = exponential_power_profile(fs, rms_delay_s=tau)
        assert p.sum() == pytest.approx(1.0)
        assert rms_delay_spread_s(p, fs) == pytest.approx(tau, rel=0.01)
    p = exponential_power_profile(fs, n_taps=4, decay_db_per_tap=3.0)
    assert p.size == 4 and p[1] / p[0] == pytest.approx(10 ** -0.3)


def test_draw_fading_taps_static_and_bad_kind(rng):
    p = np.array([0.5, 0.0, 0.5])
    h = draw_fading_taps(p, 3, "none", rng)
    assert np.allclose(h, np.sqrt(p))
    with pytest.raises(ValueError, match="fading"):
        draw_fading_taps(p, 3, "nakagami", rng)
    with pytest.raises(ValueError, match="profile"):
        tdl_power_profile("XYZ", 20e6)


# ------------------------------------------------------------------ synchronisation impairments


def test_cfo_phase_slope_and_streaming_continuity():
    fs, f = 1e6, 1234.5
    cfg = ChannelConfig(cfo_hz=f, sample_rate_hz=fs)
    y = ChannelSimulator(cfg).apply(np.ones(10_000, np.complex64))
    phase = np.unwrap(np.angle(y.astype(np.complex128)))
    slope = np.polyfit(np.arange(y.size), phase, 1)[0]
    assert slope == pytest.approx(2 * np.pi * f / fs, rel=1e-4)
    assert np.allclose(y, np.exp(2j * np.pi * f * np.arange(y.size) / fs), atol=1e-4)
    sim = ChannelSimulator(cfg)
    two = np.concatenate([sim.apply(np.ones(3_000, np.complex64)), sim.apply(np.ones(7_000, np.complex64))])
    assert np.allclose(two, y, atol=1e-4)


def test_phase_noise_is_a_wiener_process():
    fs, beta = 1e6, 500.0
    sim = ChannelSimulator(ChannelConfig(phase_noise_linewidth_hz=beta, sample_rate_hz=fs), seed=7)
    y = sim.apply(np.ones(200_000, np.complex64))
    assert np.allclose(np.abs(y), 1, atol=1e-5)
    phi = np.unwrap(np.angle(y.astype(np.complex128)))
    for lag in (1, 100):
        d = phi[lag:] - phi[:-lag]
        assert np.var(d) == pytest.approx(2 * np.pi * beta * lag / fs, rel=0.1)


def test_sro_stretches_length_and_frequency():
    n, ppm = 100_000, 500.0
    f = 0.01
    sim = ChannelSimulator(ChannelConfig(sro_ppm=ppm))
    y = sim.apply(tone(n, f))
    assert y.size == int(math.floor((n - 1) * (1 + ppm * 1e-6))) + 1
    assert y.size - n == pytest.approx(n * ppm * 1e-6, abs=1)
    core = y[100:-100].astype(np.complex128)
    slope = np.polyfit(np.arange(core.size), np.unwrap(np.angle(core)), 1)[0]
    assert slope / (2 * np.pi) == pytest.approx(f / (1 + ppm * 1e-6), rel=2e-5)
    y_neg = ChannelSimulator(ChannelConfig(sro_ppm=-ppm)).apply(tone(n, f))
    assert y_neg.size < n


def test_timing_offset_integer_and_fractional():
    x = tone(2000, 0.05)
    y = ChannelSimulator(ChannelConfig(timing_offset_samples=7)).apply(x)
    assert y.size == 2007 and np.all(y[:7] == 0) and np.array_equal(y[7:], x)
    tau = 3.4
    y = ChannelSimulator(ChannelConfig(timing_offset_samples=tau)).apply(x)
    ref = np.exp(2j * np.pi * 0.05 * (np.arange(y.size) - tau))
    err = np.mean(np.abs(y[50:-50] - ref[50:-50]) ** 2)
    assert 10 * np.log10(err) < -50


def test_fractional_resample_outside_is_zero():
    y = fractional_resample(np.ones(10, np.complex64), np.array([-100.0, 5.0, 100.0]))
    assert y[0] == 0 and y[2] == 0 and abs(y[1] - 1) < 0.05


# ------------------------------------------------------------------ RF front end


@pytest.mark.parametrize("amp_db,phase_deg", [(0.5, 3.0), (1.0, 0.0), (0.0, 5.0), (-2.0, -10.0)])
def test_iq_imbalance_image_rejection(amp_db, phase_deg):
    n, k = 4096, 300  # tone on an exact FFT bin
    x = tone(n, k / n)
    y = ChannelSimulator(ChannelConfig(iq_amplitude_imbalance_db=amp_db, iq_phase_imbalance_deg=phase_deg)).apply(x)
    spec = np.abs(np.fft.fft(y.astype(np.complex128))) ** 2
    irr_measured = 10 * np.log10(spec[k] / spec[-k])
    g, phi = 10 ** (amp_db / 20), math.radians(phase_deg)
    textbook = 10 * math.log10((1 + 2 * g * math.cos(phi) + g * g) / (1 - 2 * g * math.cos(phi) + g * g))
    assert irr_measured == pytest.approx(textbook, abs=0.05)
    assert iq_image_rejection_db(amp_db, phase_deg) == pytest.approx(textbook)


def test_dc_offset_and_yaml_pair(tmp_path):
    y = ChannelSimulator(ChannelConfig(dc_offset=[0.1, -0.2])).apply(np.zeros(8, np.complex64) + 1j)
    assert np.allclose(y, 1j + (0.1 - 0.2j))
    f = tmp_path / "ch.yaml"
    f.write_text("snr_db: 5\nfading: rician\nrician_k_db: 3\ndc_offset: [0.01, 0.02]\n")
    cfg = load_yaml(f, ChannelConfig)
    assert cfg.dc_offset == complex(0.01, 0.02) and cfg.fading == "rician"


def test_drops_remove_runs(rng):
    sim = ChannelSimulator(ChannelConfig(drop_prob=0.1, drop_run=50), seed=1)
    x = np.arange(1, 100_001).astype(np.complex64)
    y = sim.apply(x)
    assert y.size == x.size - sim.last_dropped
    assert sim.last_dropped % 50 == 0 and sim.last_dropped / x.size == pytest.approx(0.1, abs=0.02)
    gaps = np.diff(y.real)
    assert set(np.unique(gaps)) <= {1.0} | {1.0 + 50 * k for k in range(1, 20)}


# ------------------------------------------------------------------ seeding, presets, config


def test_seeding_determinism_and_reset(rng):
    x = qpsk(5000, rng)
    cfg = preset_config("hardware", fading="rayleigh", profile="EPA", drop_prob=0.01)
    a = ChannelSimulator(cfg, seed=42)
    ya = a.apply(x)
    yb = ChannelSimulator(cfg, seed=42).apply(x)
    yc = ChannelSimulator(cfg, seed=43).apply(x)
    assert np.array_equal(ya, yb) and not np.array_equal(ya[:100], yc[:100])
    a.reset()
    assert np.array_equal(a.apply(x), ya)
    assert np.array_equal(ChannelSimulator(ChannelConfig(seed=42, **PRESETS["awgn"])).apply(x), channels.create("awgn", seed=42).apply(x))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_build_and_run(name, rng):
    sim = channels.create(name, seed=0)
    y = sim.apply(qpsk(4000, rng))
    assert y.dtype == np.complex64 and y.ndim == 1 and np.all(np.isfinite(y))
    assert sim.describe()


def test_preset_overrides_and_unknown():
    assert channels.create("eva", snr_db=3.0).cfg.snr_db == 3.0
    with pytest.raises(KeyError, match="unknown channel"):
        channels.create("nope")
    with pytest.raises(KeyError, match="preset"):
        preset_config("nope")


@pytest.mark.parametrize(
    "bad",
    [
        {"snr_db": 500},
        {"fading": "nakagami"},
        {"cfo_hz": 15e6},
        {"sro_ppm": 5000},
        {"drop_prob": 1.5},
        {"profile": "exponential"},
        {"rms_delay_s": 1e-7},
        {"iq_phase_imbalance_deg": 90},
        {"timing_offset_samples": -1},
        {"dc_offset": [1, 2, 3]},
        {"snr_db": float("nan")},
        {"unknown_key": 1},
    ],
)
def test_config_rejects_out_of_range(bad):
    with pytest.raises(ValidationError):
        ChannelConfig(**bad)


def test_config_error_names_key(tmp_path):
    f = tmp_path / "ch.yaml"
    f.write_text("sro_ppm: 9999\n")
    with pytest.raises(ConfigError, match="sro_ppm"):
        load_yaml(f, ChannelConfig)


def test_bad_inputs_raise_clear_errors(rng):
    sim = channels.create("awgn")
    with pytest.raises(TypeError, match="complex"):
        sim.apply(np.ones(10, np.float32))
    with pytest.raises(ValueError, match="shape"):
        sim.apply(np.ones((2, 10), np.complex64))
    with pytest.raises(TypeError, match="numpy"):
        sim.apply([1j, 2j])
    with pytest.raises(ValueError, match="NaN"):
        sim.apply(np.array([1j, np.nan], np.complex64))
    with pytest.raises(ValueError, match="snr_db"):
        add_awgn(qpsk(10, rng), float("nan"), rng)
    with pytest.raises(ValueError, match="signal_power"):
        add_awgn(qpsk(10, rng), 10.0, rng, signal_power=-1)
    with pytest.raises(TypeError, match="ChannelConfig"):
        ChannelSimulator({"snr_db": 3})


# ------------------------------------------------------------------ Doppler (continuous fading)


def test_doppler_fading_has_jakes_autocorrelation():
    from scipy.special import j0

    fs, fd, n = 1e5, 100.0, 6000
    lags = np.array([0, 100, 200, 400, 600])
    acf = np.zeros(lags.size, np.complex128)
    for seed in range(60):
        sim = ChannelSimulator(ChannelConfig(fading="rayleigh", doppler_hz=fd, sample_rate_hz=fs), seed=seed)
        h = sim.apply(np.ones(n, np.complex64)).astype(np.complex128)
        for i, lag in enumerate(lags):
            acf[i] += np.mean(h[lag:] * np.conj(h[: n - lag]))
    acf /= 60
    assert acf[0].real == pytest.approx(1.0, abs=0.1)
    assert np.allclose(acf.real / acf[0].real, j0(2 * np.pi * fd * lags / fs), atol=0.08)


def test_doppler_fading_continues_across_calls():
    cfg = ChannelConfig(fading="rician", rician_k_db=3, doppler_hz=200.0, sample_rate_hz=1e5)
    a, b = ChannelSimulator(cfg, seed=3), ChannelSimulator(cfg, seed=3)
    two = np.concatenate([a.apply(np.ones(700, np.complex64)), a.apply(np.ones(1300, np.complex64))])
    one = b.apply(np.ones(2000, np.complex64))
    assert np.allclose(two, one, atol=2e-3)  # only the interpolation grid differs
    assert np.abs(one[0] - one[-1]) > 0.05  # and it does vary in time
    with pytest.raises(ValidationError):
        ChannelConfig(fading="rayleigh", doppler_hz=10.0, block_len_samples=100)
    with pytest.raises(ValidationError):
        ChannelConfig(doppler_hz=10.0)


def test_noise_voltage_matches_add_awgn(rng):
    from semcom_ota.channel.sim import noise_voltage

    x = qpsk(100_000, rng, amp=0.25)
    y = add_awgn(x, 8.0, rng)
    assert np.std(y - x) == pytest.approx(noise_voltage(8.0, 0.0625), rel=0.01)


# ------------------------------------------------------------------ streaming


STREAM_CASES = [
    {"profile": "EVA"},
    {"fading": "rayleigh", "profile": "EPA"},
    {"fading": "rayleigh", "profile": "EVA", "block_len_samples": 777},
    {"fading": "rician", "profile": "EVA", "doppler_hz": 300.0},
    {"timing_offset_samples": 5.3},
    {"sro_ppm": 300, "timing_offset_samples": 2.7, "cfo_hz": 1e5, "iq_phase_imbalance_deg": 3, "dc_offset": 0.1},
    {"fading": "rayleigh", "profile": "ETU", "sro_ppm": -200},
]


@pytest.mark.parametrize("kw", STREAM_CASES)
def test_stream_is_chunking_invariant_and_matches_apply(kw, rng):
    x = qpsk(20_000, rng)
    cfg = ChannelConfig(**kw)
    whole = ChannelSimulator(cfg, seed=1).stream(x)
    sim = ChannelSimulator(cfg, seed=1)
    cuts = [0, 1, 5, 1000, 1003, 7000, 19_990, 20_000]
    parts = np.concatenate([sim.stream(x[a:b]) for a, b in zip(cuts[:-1], cuts[1:])])
    assert parts.size == whole.size
    assert np.allclose(parts, whole, rtol=0, atol=1e-5)  # SIMD cos/sin may differ by an ulp with alignment
    eps = cfg.sro_ppm * 1e-6
    assert abs(whole.size - x.size * (1 + eps)) <= 8 + cfg.timing_offset_samples * (1 + eps) + 1
    framed = ChannelSimulator(cfg, seed=1).apply(x)  # same channel, frame mode (keeps the tails)
    k = whole.size - 20
    assert np.allclose(whole[:k], framed[:k], atol=1e-5)


def test_stream_noise_and_reset(rng):
    x = qpsk(40_000, rng, amp=0.5)
    sim = ChannelSimulator(ChannelConfig(snr_db=15.0, fading="rayleigh", profile="EPA"), seed=8)
    y = np.concatenate([sim.stream(c) for c in np.array_split(x, 9)])
    h = sim.last_taps[0]
    clean = np.convolve(x, h)[: x.size]
    snr = 10 * np.log10(0.25 / np.mean(np.abs(y - clean) ** 2))
    assert snr == pytest.approx(15.0, abs=0.15)
    sim.reset()
    assert np.array_equal(np.concatenate([sim.stream(c) for c in np.array_split(x, 9)]), y)


def test_stream_noise_reference_is_the_running_active_power(rng):
    sim = ChannelSimulator(ChannelConfig(snr_db=10.0), seed=2)
    frame = qpsk(20_000, rng, amp=0.5)
    sim.stream(frame)
    assert sim.last_noise_var == pytest.approx(0.025, rel=1e-6)
    tail = np.zeros(20_000, np.complex64)
    tail[:10] = 2.0  # a few loud samples must not swing the noise level of the whole chunk
    y = sim.stream(tail)
    assert sim.last_noise_var == pytest.approx(0.025 * (20_000 * 0.25 + 40) / 20_010 / 0.25, rel=1e-6)
    assert np.mean(np.abs(y[10:]) ** 2) == pytest.approx(0.025, rel=0.05)
