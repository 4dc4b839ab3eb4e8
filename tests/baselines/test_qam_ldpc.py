"""QAM mapping/demapping and the IEEE 802.11n LDPC codes."""

import numpy as np
import pytest

from semcom_ota.baselines.ldpc import LdpcCode, get_code, lift
from semcom_ota.baselines.ldpc_tables import CODEWORD_LENGTHS, RATES, base_matrix
from semcom_ota.baselines.qam import MODULATIONS, Qam


@pytest.mark.parametrize("order", sorted(MODULATIONS))
def test_qam_unit_power_gray_and_round_trip(order, rng):
    q = Qam(order)
    assert np.isclose(np.mean(np.abs(q.points) ** 2), 1.0)
    assert len(np.unique(np.round(q.points, 9))) == order
    # Gray: every nearest neighbour differs in exactly one bit
    m = q.bits_per_symbol
    labels = np.arange(order)
    d = np.abs(q.points[:, None] - q.points[None, :])
    np.fill_diagonal(d, np.inf)
    dmin = d.min()
    for i in range(order):
        for j in np.nonzero(np.isclose(d[i], dmin))[0]:
            assert bin(labels[i] ^ labels[j]).count("1") == 1
    bits = rng.integers(0, 2, m * 500).astype(np.uint8)
    llr = q.demap_llr(q.modulate(bits), 1e-3)
    assert np.array_equal((llr < 0).astype(np.uint8), bits)  # LLR sign: positive means bit 0


@pytest.mark.parametrize("order", [4, 64, 256])
def test_qam_llr_matches_brute_force_max_log_with_per_symbol_noise(order, rng):
    q = Qam(order)
    m = q.bits_per_symbol
    s = q.modulate(rng.integers(0, 2, m * 300))
    nv = rng.uniform(0.01, 1.0, s.size)  # a different noise variance per symbol
    y = s + np.sqrt(nv / 2) * (rng.standard_normal(s.size) + 1j * rng.standard_normal(s.size))
    llr = q.demap_llr(y, nv).reshape(-1, m)
    allbits = (np.arange(order)[:, None] >> np.arange(m - 1, -1, -1)) & 1
    d2 = np.abs(y[:, None] - q.points[None, :]) ** 2
    for j in range(m):
        ref = (d2[:, allbits[:, j] == 1].min(1) - d2[:, allbits[:, j] == 0].min(1)) / nv
        np.testing.assert_allclose(llr[:, j], ref, rtol=1e-4, atol=1e-3)


def test_qam_erasures_and_bad_input():
    q = Qam(16)
    llr = q.demap_llr(np.array([0.3 + 0.1j, 1 + 1j]), np.array([0.1, np.inf]))
    assert np.all(llr[4:] == 0) and np.all(llr[:4] != 0)
    with pytest.raises(ValueError, match="order=8"):
        Qam(8)
    with pytest.raises(ValueError, match="multiple of 4"):
        q.modulate(np.ones(6, np.uint8))
    with pytest.raises(ValueError, match="noise_var"):
        q.demap_llr(np.zeros(2, complex), np.array([0.1, 0.0]))


@pytest.mark.parametrize("n", CODEWORD_LENGTHS)
@pytest.mark.parametrize("rate", RATES)
def test_ldpc_encoding_satisfies_parity_and_is_systematic(n, rate, rng):
    code = get_code(n, rate)
    assert code.k == round(n * code.rate_value) and code.H.shape == (n - code.k, n)
    u = rng.integers(0, 2, (8, code.k))
    cw = code.encode(u)
    assert np.array_equal(cw[:, : code.k], u)
    assert code.syndrome_ok(cw).all()
    # full rank: the parity part is invertible, so a nonzero info word never gives the zero codeword
    flipped = cw.copy()
    flipped[:, 0] ^= 1
    assert not code.syndrome_ok(flipped).any()


def test_ldpc_tables_are_the_standard():
    # spot values of IEEE 802.11-2012 Annex F (independently checked against a second published copy)
    assert base_matrix(648, "1/2")[1, :5].tolist() == [22, 0, -1, -1, 17]
    assert base_matrix(1944, "5/6")[3, -6:].tolist() == [73, 52, 1, -1, -1, 0]
    assert base_matrix(1296, "3/4").shape == (6, 24)
    assert int((base_matrix(1944, "1/2") >= 0).sum()) == 86  # nonzero blocks of the n=1944 rate-1/2 prototype
    h = lift(np.array([[1, -1], [0, 2]]), 3).toarray()
    assert h[0].tolist() == [0, 1, 0, 0, 0, 0] and h[3].tolist() == [1, 0, 0, 0, 0, 1]


def test_ldpc_decodes_error_free_at_high_snr_and_fails_below_capacity(rng):
    code = get_code(648, "1/2")
    u = rng.integers(0, 2, (40, code.k))
    x = 1.0 - 2.0 * code.encode(u)  # BPSK, bit 0 -> +1 (LLR sign convention)

    def run(snr_db):
        n0 = 10 ** (-snr_db / 10)
        y = x + rng.standard_normal(x.shape) * np.sqrt(n0 / 2)
        return code.decode(4 * y / n0)

    bits, ok = run(3.0)
    assert ok.all() and np.array_equal(bits, u)
    _, ok_bad = code.decode(4 * (x[:8] + rng.standard_normal(x[:8].shape) * np.sqrt(10 ** 0.6 / 2)) / 10 ** 0.6)
    assert not ok_bad.any()  # Es/N0 = -6 dB: far below the Shannon limit of rate 1/2 real BPSK (-2.8 dB)


def test_ldpc_bler_at_mid_snr_is_sane(rng):
    # mid-waterfall for n=648 rate 1/2 BPSK: some but not all codewords fail
    code = get_code(648, "1/2")
    u = rng.integers(0, 2, (100, code.k))
    x = 1.0 - 2.0 * code.encode(u)
    n0 = 10 ** (2.2 / 10)  # Es/N0 = -2.2 dB
    y = x + rng.standard_normal(x.shape) * np.sqrt(n0 / 2)
    bits, ok = code.decode(4 * y / n0)
    assert 0.15 < 1 - ok.mean() < 0.9
    # parity success is nearly always the right word; rare low-weight (d = 15) undetected errors
    # exist at this SNR for n = 648, which is why the bit pipe adds a CRC-32
    assert np.any(bits[ok] != u[ok], axis=1).sum() <= 2


def test_ldpc_bad_input():
    with pytest.raises(ValueError, match="n=1000"):
        LdpcCode(1000, "1/2")
    code = get_code(648, "5/6")
    with pytest.raises(ValueError, match=r"expected \[B, 540\]"):
        code.encode(np.zeros(10, np.uint8))
    with pytest.raises(ValueError, match="NaN"):
        code.decode(np.full(648, np.nan))
