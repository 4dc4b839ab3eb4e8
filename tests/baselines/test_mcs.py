"""MCS table, frame planning, rate selection and the ideal-separation capacity."""

import numpy as np
import pytest

from semcom_ota.baselines.mcs import (
    HEADER_SYMBOLS, MCS_TABLE, fit_probit, ideal_capacity_bits, load_bler_table, min_channel_uses,
    outage_probability, plan_frame, select_mcs,
)


def test_plan_fills_the_budget_exactly():
    for mcs in MCS_TABLE:
        for cu in (200, 1000, 3001):
            p = plan_frame(mcs, cu)
            if p is None:
                assert (cu - HEADER_SYMBOLS) * mcs.bits_per_symbol < 648
                continue
            assert HEADER_SYMBOLS + p.data_symbols + p.spare_symbols == cu
            assert p.data_symbols * mcs.bits_per_symbol == p.n_codewords * p.n
            assert p.spare_symbols * mcs.bits_per_symbol < p.n  # less than one more codeword is left over


def test_plan_prefers_the_longest_codeword_within_the_payload_tolerance():
    """4096 uses at 64-QAM 2/3: 648-bit codewords would carry 2.7 % more bits, the 1944-bit ones are
    kept (and decode at 15 dB where the short ones fail); where a longer code costs more than the
    tolerance the most-payload length stays (the plan is a function of MCS and channel uses only)."""
    from semcom_ota.baselines.ldpc_tables import CODEWORD_LENGTHS
    from semcom_ota.baselines.mcs import LONG_CODEWORD_TOLERANCE, get_mcs, success_probability

    p = plan_frame(get_mcs(5), 4096)
    assert p.n == 1944 and success_probability(p, 15.0) > 0.9
    for mcs in MCS_TABLE:
        for cu in (200, 320, 1000, 3001, 4096, 9000):
            p = plan_frame(mcs, cu)
            if p is None:
                continue
            avail = cu - HEADER_SYMBOLS
            bits = {n: (avail * mcs.bits_per_symbol // n) * round(n * mcs.rate_value) for n in CODEWORD_LENGTHS}
            ok = [n for n, b in bits.items() if b >= (1 - LONG_CODEWORD_TOLERANCE) * max(bits.values()) and b > 0]
            assert p.n == max(ok), (mcs.name, cu, bits)


def test_measured_bler_table_is_ordered_like_the_mcs_table():
    table = load_bler_table()
    for n in (648, 1296, 1944):
        thr = [table[(n, m.index)].threshold_db(0.1) for m in MCS_TABLE]
        assert all(b > a for a, b in zip(thr, thr[1:])), thr  # a faster MCS needs more SNR
        for m, t in zip(MCS_TABLE, thr):  # never better than Shannon, within ~4 dB of it
            shannon = 10 * np.log10(2 ** m.spectral_efficiency - 1)
            assert shannon < t < shannon + 4.5, (n, m.name, t, shannon)
    # longer codes have steeper waterfalls
    assert table[(1944, 0)].sigma < table[(648, 0)].sigma


def test_probit_fit_recovers_known_curve(rng):
    s = np.arange(0, 4, 0.25)
    p = 0.5 * __import__("scipy.special", fromlist=["erfc"]).erfc((s - 2.0) / (np.sqrt(2) * 0.4))
    t = np.full(s.size, 2000)
    e = rng.binomial(t, p)
    mu, sigma = fit_probit(s, e, t)
    assert abs(mu - 2.0) < 0.05 and abs(sigma - 0.4) < 0.05


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_selection_is_monotone_in_snr_and_respects_the_budget(channel):
    caps, idx = [], []
    for snr in np.arange(-4, 36, 2.0):
        c = select_mcs(None, 4000, snr, channel)
        assert c.plan.channel_uses == 4000 and HEADER_SYMBOLS + c.plan.data_symbols <= 4000
        caps.append(c.plan.payload_bits)
        idx.append(c.mcs.index)
    assert all(b >= a for a, b in zip(caps, caps[1:])), caps
    assert idx[0] == 0 and idx[-1] == 9
    # outage-aware fading choice is more conservative than AWGN at the same mean SNR
    assert select_mcs(None, 4000, 15.0, "rayleigh").mcs.index < select_mcs(None, 4000, 15.0, "awgn").mcs.index


def test_awgn_choice_is_the_fastest_reliable_mcs():
    from semcom_ota.baselines.mcs import success_probability

    for snr in (3.0, 12.0, 19.0):
        c = select_mcs(None, 4000, snr, "awgn", target_fer=0.1)
        assert c.success_prob >= 0.9
        faster = plan_frame(MCS_TABLE[c.mcs.index + 1], 4000)
        assert success_probability(faster, snr, "awgn") < 0.9
    # a looser target never picks a slower MCS
    assert select_mcs(None, 4000, 13.4, "awgn", target_fer=0.9).mcs.index >= select_mcs(None, 4000, 13.4, "awgn").mcs.index


def test_fixed_payload_picks_the_most_robust_fitting_mcs():
    c = select_mcs(20000, 4000, 30.0, "awgn")
    assert c.plan.payload_bits >= 20000
    assert all(plan_frame(m, 4000).payload_bits < 20000 for m in MCS_TABLE[: c.mcs.index])
    assert select_mcs(500, 4000, 30.0, "awgn").mcs.index == 0


def test_budget_errors_name_budget_and_minimum():
    with pytest.raises(ValueError, match=r"channel_uses=100: too small .* need at least 113"):
        select_mcs(None, 100, 20.0)
    need = min_channel_uses(50000)
    with pytest.raises(ValueError, match=rf"channel_uses=2000: .*payload_bits=50000.* need at least {need}"):
        select_mcs(50000, 2000, 20.0)
    assert select_mcs(50000, need, 40.0).plan.payload_bits >= 50000
    with pytest.raises(ValueError, match="channel='ricean'"):
        select_mcs(None, 1000, 10.0, "ricean")


def test_ideal_capacity():
    assert ideal_capacity_bits(1000, 0.0, "awgn") == 1000
    assert ideal_capacity_bits(1000, 10 * np.log10(3), "awgn") == 2000
    r = ideal_capacity_bits(1000, 10.0, "rayleigh")
    ergodic = 1000 * np.mean(np.log2(1 + 10 * np.random.default_rng(0).exponential(size=200000)))
    assert 0 < r < ergodic < ideal_capacity_bits(1000, 10.0, "awgn")
    assert np.isclose(outage_probability(1.0, 0.0), 1 - np.exp(-1.0))


def test_rayleigh_success_quadrature_matches_monte_carlo():
    from semcom_ota.baselines.mcs import success_probability

    plan = plan_frame(MCS_TABLE[4], 3000)
    quad = success_probability(plan, 15.0, "rayleigh")
    mc = success_probability(plan, 15.0, "rayleigh", rng=7)
    assert 0.3 < quad < 0.95 and abs(quad - mc) < 0.03
    assert success_probability(plan, 15.0, "awgn") > quad  # fading costs reliability at equal mean SNR
