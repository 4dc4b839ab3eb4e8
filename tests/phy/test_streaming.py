"""Streaming: chunks of any size, frames straddling chunks, truncation, garbage inputs."""

import numpy as np
import pytest

from semcom_ota.channel.sim import add_awgn
from semcom_ota.frames import FrameStatus
from semcom_ota.phy import Demodulator, Modulator, PhyConfig

CFG = PhyConfig()


def _stream(rng, make_frame, sizes, snr_db=20.0, gap=500):
    mod = Modulator(CFG)
    frames = [make_frame(rng, n, seq=i) for i, n in enumerate(sizes)]
    parts = []
    for f in frames:
        parts += [mod.modulate(f), np.zeros(gap, np.complex64)]
    x = np.concatenate(parts)
    return frames, add_awgn(x, snr_db, rng, signal_power=CFG.backoff_rms**2)


def _feed(demod, y, chunk_sizes):
    out, i, k = [], 0, 0
    while i < y.size:
        c = int(chunk_sizes[k % len(chunk_sizes)])
        out += demod.feed(y[i : i + c])
        i += c
        k += 1
    return out + demod.flush()


def _nmse_db(rx, fr):
    return 10 * np.log10(np.mean(np.abs(rx.symbols - fr.symbols) ** 2))


def test_random_chunk_sizes_match_one_shot(rng, make_frame):
    frames, y = _stream(rng, make_frame, [700, 48, 2000, 1])
    ref = Demodulator(CFG)
    one = ref.feed(y) + ref.flush()
    sizes = rng.integers(1, 3000, 200)
    sizes[::3] = 1  # many one-sample chunks
    got = _feed(Demodulator(CFG), y, sizes)
    assert len(one) == len(got) == 4
    for a, b, f in zip(one, got, frames):
        assert a.status is b.status is FrameStatus.OK
        assert a.meta.seq == b.meta.seq == f.meta.seq and a.n == b.n == f.n
        assert abs(_nmse_db(a, f) - _nmse_db(b, f)) < 0.5
        assert _nmse_db(b, f) < -17.0


def test_one_sample_chunks(rng, make_frame):
    frames, y = _stream(rng, make_frame, [96, 200], gap=100)
    out = _feed(Demodulator(CFG), y, [1])
    assert [f.status for f in out] == [FrameStatus.OK, FrameStatus.OK]
    assert [f.n for f in out] == [96, 200]


def test_state_stays_bounded(rng, make_frame):
    frames, y = _stream(rng, make_frame, [1500] * 30, gap=3000)
    demod = Demodulator(CFG)
    longest = store = 0
    out = []
    for i in range(0, y.size, 777):
        out += demod.feed(y[i : i + 777])
        longest = max(longest, demod._buf.size + sum(c.size for c in demod._chunks))
        store = max(store, demod._store.size)  # the reused sample store behind _buf
    out += demod.flush()
    assert len(out) == 30 and all(f.status is FrameStatus.OK for f in out)
    frame_len = Modulator(CFG).layout.burst_len(1500)
    assert longest < 2 * frame_len + 8192, longest
    assert store <= max(1 << 16, 4 * (2 * frame_len + 8192)), store


def _tiered(rng, make_frame, n_blocks=6):
    lay = Modulator(CFG).layout
    block = lay.n_data * CFG.perm_block_symbols  # payload symbols per permutation block
    n = block * n_blocks
    tiers = [block * k for k in range(1, n_blocks + 1)]
    return make_frame(rng, n, tiers=tiers), lay, block


@pytest.mark.parametrize("keep_blocks", [1, 3, 5])
def test_truncation_at_tier_boundary_masks_the_tail(rng, make_frame, keep_blocks):
    fr, lay, block = _tiered(rng, make_frame)
    burst = Modulator(CFG).modulate(fr)
    cut = CFG.guard_len + lay.payload_start + keep_blocks * CFG.perm_block_symbols * lay.sym_len
    y = add_awgn(burst[:cut], 25.0, rng)
    demod = Demodulator(CFG)
    out = demod.feed(y) + demod.flush()
    assert len(out) == 1
    rx = out[0]
    assert rx.status is FrameStatus.TRUNCATED and rx.n == fr.n
    expected = np.arange(fr.n) < keep_blocks * block
    np.testing.assert_array_equal(rx.mask, expected)
    assert np.all(np.isinf(rx.noise_var[~rx.mask])) and np.all(rx.symbols[~rx.mask] == 0)
    err = np.mean(np.abs(rx.symbols[rx.mask] - fr.symbols[rx.mask]) ** 2)
    assert 10 * np.log10(err) < -22.0
    assert demod.stats.truncated == 1


def test_truncation_mid_block_masks_exactly_the_lost_ofdm_symbols(rng, make_frame):
    fr, lay, block = _tiered(rng, make_frame)
    burst = Modulator(CFG).modulate(fr)
    n_sym = 2 * CFG.perm_block_symbols + 1  # one OFDM symbol into block 3
    y = add_awgn(burst[: CFG.guard_len + lay.payload_start + n_sym * lay.sym_len + 5], 25.0, rng)
    demod = Demodulator(CFG)
    (rx,) = demod.feed(y) + demod.flush()
    assert rx.status is FrameStatus.TRUNCATED
    assert rx.mask[: 2 * block].all() and not rx.mask[3 * block :].any()
    assert rx.mask.sum() == n_sym * lay.n_data
    # the received part of the partial block is spread by the permutation (frequency diversity)
    assert 0 < rx.mask[2 * block : 3 * block].sum() < block


def test_burst_cut_in_the_channel_then_silence_then_next_frame(rng, make_frame):
    """In-stream truncation: the samples stop mid-frame, noise follows, then a full frame."""
    fr1, lay, block = _tiered(rng, make_frame)
    fr2, _, _ = _tiered(rng, make_frame, n_blocks=2)
    mod = Modulator(CFG)
    b1 = mod.modulate(fr1)
    cut = CFG.guard_len + lay.payload_start + 2 * CFG.perm_block_symbols * lay.sym_len
    x = np.concatenate([b1[:cut], np.zeros(400, np.complex64), mod.modulate(fr2)])
    y = add_awgn(x, 20.0, rng)
    out = _feed(Demodulator(CFG), y, [1000])
    assert [f.status for f in out] == [FrameStatus.TRUNCATED, FrameStatus.OK]
    np.testing.assert_array_equal(out[0].mask, np.arange(fr1.n) < 2 * block)
    assert out[1].n == fr2.n


def test_frame_cut_by_the_next_frame(rng, make_frame):
    """A burst whose tail is replaced by the next burst (no silence between)."""
    fr1, lay, block = _tiered(rng, make_frame)
    fr2, _, _ = _tiered(rng, make_frame, n_blocks=1)
    mod = Modulator(CFG)
    b1 = mod.modulate(fr1)
    cut = CFG.guard_len + lay.payload_start + 3 * CFG.perm_block_symbols * lay.sym_len
    y = add_awgn(np.concatenate([b1[:cut], mod.modulate(fr2)[CFG.guard_len :]]), 20.0, rng)
    out = _feed(Demodulator(CFG), y, [4096])
    assert [f.status for f in out] == [FrameStatus.TRUNCATED, FrameStatus.OK]
    np.testing.assert_array_equal(out[0].mask, np.arange(fr1.n) < 3 * block)


def test_tx_side_truncation_decodes_as_a_shorter_frame(rng, make_frame):
    fr, lay, block = _tiered(rng, make_frame)
    short = fr.truncate(2 * block)
    y = add_awgn(Modulator(CFG).modulate(short), 20.0, rng)
    demod = Demodulator(CFG)
    (rx,) = demod.feed(y) + demod.flush()
    assert rx.status is FrameStatus.OK and rx.n == 2 * block and rx.meta.n_tiers == 2


def test_header_cut_off_counts_but_emits_nothing(rng, make_frame):
    fr = make_frame(rng, 200)
    burst = Modulator(CFG).modulate(fr)
    lay = Modulator(CFG).layout
    y = add_awgn(burst[: CFG.guard_len + lay.header_start + 100], 20.0, rng, signal_power=CFG.backoff_rms**2)
    demod = Demodulator(CFG)
    assert demod.feed(y) + demod.flush() == []
    assert demod.stats.lost_no_header == 1


def test_nan_inside_a_frame_drops_only_that_frame(rng, make_frame):
    frames, y = _stream(rng, make_frame, [600, 600, 600])
    lay = Modulator(CFG).layout
    burst = lay.burst_len(600) + 500
    y = y.copy()
    y[burst + CFG.guard_len + lay.payload_start + 300] = np.nan  # payload of frame 2
    y[2 * burst - 100] = np.inf  # in the gap: harmless
    demod = Demodulator(CFG)
    out = _feed(demod, y, [5000])
    assert [f.status for f in out] == [FrameStatus.OK, FrameStatus.BAD_SAMPLES, FrameStatus.OK]
    assert out[1].n == 600 and not out[1].mask.any()
    assert demod.stats.bad_samples == 2 and demod.stats.bad_frames == 1


def test_nan_in_header_and_all_nan_chunks_do_not_crash(rng, make_frame):
    frames, y = _stream(rng, make_frame, [300, 300])
    lay = Modulator(CFG).layout
    y = y.copy()
    y[CFG.guard_len + lay.header_start + 10 : CFG.guard_len + lay.header_start + 20] = np.nan + 1j * np.nan
    demod = Demodulator(CFG)
    out = demod.feed(y) + demod.feed(np.full(1000, np.inf, np.complex64)) + demod.flush()
    assert out[-1].status is FrameStatus.OK and out[-1].meta.seq == 1
    assert all(f.status is not FrameStatus.OK for f in out[:-1])


@pytest.mark.parametrize(
    "bad, exc, word",
    [
        (np.zeros(10, np.float32), TypeError, "complex64"),
        (np.zeros(10, np.int16), TypeError, "dtype int16"),
        (np.zeros((2, 5), np.complex64), ValueError, "shape"),
        ([1j, 2j], TypeError, "list"),
    ],
)
def test_wrong_input_types_are_rejected_clearly(bad, exc, word):
    with pytest.raises(exc, match=word):
        Demodulator(CFG).feed(bad)


def test_garbage_samples_give_no_frames(rng):
    demod = Demodulator(CFG)
    g = (rng.uniform(-1e6, 1e6, 200_000) + 1j * rng.uniform(-1e6, 1e6, 200_000)).astype(np.complex64)
    sq = np.sign(np.sin(np.arange(100_000) * 0.3)).astype(np.complex64)  # a square wave
    out = demod.feed(g) + demod.feed(sq) + demod.feed(np.zeros(0, np.complex64)) + demod.flush()
    assert out == []


def test_complex128_input_accepted(rng, make_frame):
    frames, y = _stream(rng, make_frame, [100])
    demod = Demodulator(CFG)
    out = demod.feed(y.astype(np.complex128)) + demod.flush()
    assert len(out) == 1 and out[0].status is FrameStatus.OK
