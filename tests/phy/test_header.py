"""Header: bit packing, CRC-16, convolutional code + Viterbi, CRC rejection end to end."""

import numpy as np
import pytest

from semcom_ota.channel.sim import add_awgn
from semcom_ota.frames import FrameMeta, FrameStatus, SemanticFrame
from semcom_ota.phy import Demodulator, Modulator, PhyConfig
from semcom_ota.phy.header import (
    conv_encode,
    crc16,
    fields_from_word,
    meta_from_word,
    pack_header,
    snr_from_index,
    snr_to_index,
    unpack_header,
    viterbi_decode,
)
from semcom_ota.phy.modulator import header_grid


def test_crc16_known_value():
    # CRC-16/CCITT-FALSE of ASCII "123456789" is 0x29B1
    bits = np.unpackbits(np.frombuffer(b"123456789", np.uint8))
    assert int("".join(map(str, crc16(bits))), 2) == 0x29B1


def test_pack_unpack_roundtrip():
    meta = FrameMeta(codec_id=9, seq=250, snr_db=7.0, n_tiers=11, flags=6)
    f = unpack_header(pack_header(meta, 16383))
    assert (f.codec_id, f.seq, f.length, f.n_tiers, f.flags) == (9, 250, 16383, 11, 6)
    assert abs(f.meta().snr_db - 7.0) <= 0.75


def test_crc_rejects_every_single_and_random_multi_bit_error(rng):
    bits = pack_header(FrameMeta(codec_id=3, seq=17), 999)
    for i in range(bits.size):
        b = bits.copy()
        b[i] ^= 1
        assert unpack_header(b) is None
    for _ in range(2000):
        b = bits ^ (rng.random(bits.size) < 0.1).astype(np.uint8)
        if not np.array_equal(b, bits):
            assert unpack_header(b) is None


def test_meta_from_word_equals_the_fields_meta(rng):
    for _ in range(500):
        word = int(rng.integers(0, 1 << 40))
        assert meta_from_word(word) == fields_from_word(word).meta()


def test_header_field_limits():
    with pytest.raises(ValueError, match="length"):
        pack_header(FrameMeta(), 1 << 14)


def test_snr_index_quantisation():
    for snr in np.arange(-10, 36.5, 0.37):
        assert abs(snr_from_index(snr_to_index(snr)) - snr) <= 0.75 + 1e-9
    assert snr_to_index(-50) == 0 and snr_to_index(99) == 31 and snr_to_index(float("nan")) == 0


def test_viterbi_corrects_errors(rng):
    bits = rng.integers(0, 2, 56).astype(np.uint8)
    coded = conv_encode(bits)
    assert coded.size == 124
    llr = 1.0 - 2.0 * coded
    llr[rng.choice(coded.size, 6, replace=False)] *= -1  # 6 hard errors spread out
    np.testing.assert_array_equal(viterbi_decode(llr * 3), bits)
    noisy = (1.0 - 2.0 * coded) + rng.standard_normal(coded.size) * 0.6  # Es/N0 ≈ 1.4 dB
    np.testing.assert_array_equal(viterbi_decode(2 * noisy / 0.36), bits)


def test_corrupted_header_is_reported_as_crc_fail_and_never_decoded(rng, make_frame, monkeypatch):
    """A burst whose header codeword carries a wrong CRC: the receiver emits CRC_FAIL with n=0."""
    import semcom_ota.phy.modulator as m

    cfg = PhyConfig()

    def bad_grid(layout, bits56):
        b = bits56.copy()
        b[5] ^= 1  # a seq bit changed after the CRC was computed
        return header_grid(layout, b)

    monkeypatch.setattr(m, "header_grid", bad_grid)
    bad = Modulator(cfg).modulate(make_frame(rng, 300, seq=4))
    monkeypatch.undo()
    good = Modulator(cfg).modulate(make_frame(rng, 300, seq=5))
    y = add_awgn(np.concatenate([bad, good]), 20.0, rng)
    demod = Demodulator(cfg)
    out = demod.feed(y) + demod.flush()
    assert [f.status for f in out] == [FrameStatus.CRC_FAIL, FrameStatus.OK]
    assert out[0].n == 0 and out[1].meta.seq == 5
    assert demod.stats.crc_fail == 1


def test_modulator_rejects_bad_frames(rng):
    mod = Modulator(PhyConfig())
    with pytest.raises(TypeError, match="SemanticFrame"):
        mod.modulate(np.zeros(10, np.complex64))
    big = SemanticFrame(np.ones(1 << 14, np.complex64), [1 << 14])
    with pytest.raises(ValueError, match="16383"):
        mod.modulate(big)
    nan = SemanticFrame(np.full(10, np.nan, np.complex64), [10])
    with pytest.raises(ValueError, match="finite"):
        mod.modulate(nan)


@pytest.mark.parametrize(
    "kw, word",
    [
        ({"n_fft": 63}, "even"),
        ({"pilot_bins": (-22, 0, 8, 22)}, "not used bins"),
        ({"cp_len": 40}, "cp_len"),
        ({"guard_len": 10}, "guard_len"),
        ({"n_used_half": 31}, "fit the FFT"),
        ({"timing_backoff": 16}, "timing_backoff"),
    ],
)
def test_config_errors_name_the_key(kw, word):
    with pytest.raises(ValueError, match=word):
        PhyConfig(**kw)


def test_other_numerology_roundtrip(rng, make_frame):
    cfg = PhyConfig(n_fft=128, cp_len=32, n_used_half=52, pilot_bins=(-44, -16, 16, 44), guard_len=160)
    fr = make_frame(rng, 1000, seq=77)
    y = add_awgn(Modulator(cfg).modulate(fr), 20.0, rng)
    demod = Demodulator(cfg)
    (rx,) = demod.feed(y) + demod.flush()
    assert rx.status is FrameStatus.OK and rx.meta.seq == 77
    assert 10 * np.log10(np.mean(np.abs(rx.symbols - fr.symbols) ** 2)) < -18.0
