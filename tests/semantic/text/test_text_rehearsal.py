"""The hybrid TX's rehearsal: per-message prediction of the semantic codec's outcome, and its calibration."""

import numpy as np
import pytest


def test_calibrate_shrinks_the_loss_by_the_val_ratio():
    from semcom_ota.semantic.text.rehearsal import calibrate

    # val: rehearsal 0.8 on average, the receiver delivered 0.9 -> losses halve
    out = calibrate(np.array([1.0, 0.8, 0.4, 0.0]), np.array([0.7, 0.9]), 0.9)
    np.testing.assert_allclose(out, [1.0, 0.9, 0.7, 0.5])
    # a receiver no better than the rehearsal leaves the values as they are
    np.testing.assert_allclose(calibrate(np.array([0.3, 0.6]), np.array([0.5]), 0.5), [0.3, 0.6])
    # a receiver worse than the rehearsal scales losses up, clipped at 0
    np.testing.assert_allclose(calibrate(np.array([0.9, 0.1]), np.array([0.8]), 0.6), [0.8, 0.0])
    # perfect rehearsal on val: nothing to scale
    np.testing.assert_allclose(calibrate(np.array([0.5]), np.array([1.0, 1.0]), 0.95), [0.5])
    with pytest.raises(ValueError, match="val_delivered"):
        calibrate(np.array([0.5]), np.array([0.5]), 1.5)


def test_rehearsal_rejects_bad_arguments(codec):
    from semcom_ota.semantic.text.rehearsal import SemanticRehearsal

    with pytest.raises(ValueError, match="draws"):
        SemanticRehearsal(codec, None, None, "awgn", draws=0)
    with pytest.raises(ValueError, match="channel"):
        SemanticRehearsal(codec, None, None, "fading", draws=1)
    r = SemanticRehearsal(codec, None, None, "awgn", draws=1)
    with pytest.raises(ValueError, match="frames"):
        r(["one", "two"], 64, 10.0, frames=np.zeros((3, 64), np.complex64))
    assert r([], 64, 10.0).shape == (0,)


def test_rehearsal_tracks_snr_and_message(codec, test_sentences):
    """More SNR -> the TX expects more; a frame the TX decodes perfectly at 30 dB rehearses near 1;
    the same seed gives the same values (the rehearsal has its own generator)."""
    from semcom_ota.semantic.text.rehearsal import SemanticRehearsal

    msgs = test_sentences[:12]
    budget = 8 * 40
    lo = SemanticRehearsal(codec, None, None, "awgn", draws=2, seed=1)(msgs, budget, -5.0)
    hi_r = SemanticRehearsal(codec, None, None, "awgn", draws=2, seed=1)
    hi = hi_r(msgs, budget, 30.0)
    assert lo.shape == hi.shape == (12,)
    assert np.all((0.0 <= lo) & (lo <= 1.0)) and np.all((0.0 <= hi) & (hi <= 1.0))
    assert hi.mean() > lo.mean() + 0.2, (lo.mean(), hi.mean())
    assert hi.mean() > 0.8, hi
    again = SemanticRehearsal(codec, None, None, "awgn", draws=2, seed=1)(msgs, budget, 30.0)
    np.testing.assert_allclose(again, hi)
    # the frames may be handed in (the eval reuses the ones it sends): same values
    frames = codec.encode_batch(msgs, budget, 30.0)
    np.testing.assert_allclose(SemanticRehearsal(codec, None, None, "awgn", draws=2, seed=1)(msgs, budget, 30.0,
                                                                                              frames), hi)
    emb = codec.lam.sentence_embeddings(msgs)  # and the messages' embeddings too
    np.testing.assert_allclose(SemanticRehearsal(codec, None, None, "awgn", draws=2, seed=1)(
        msgs, budget, 30.0, frames, emb), hi)
    with pytest.raises(ValueError, match="message_emb"):
        SemanticRehearsal(codec, None, None, "awgn", draws=1)(msgs, budget, 30.0, frames, emb[:3])
    # Rayleigh: fades cost the TX's expectation at a low mean SNR
    ray = SemanticRehearsal(codec, None, None, "rayleigh", draws=4, seed=1)(msgs, budget, 3.0)
    awgn = SemanticRehearsal(codec, None, None, "awgn", draws=4, seed=1)(msgs, budget, 3.0)
    assert ray.mean() < awgn.mean(), (ray.mean(), awgn.mean())


def test_hybrid_choice_takes_a_per_message_expectation():
    from semcom_ota.eval.text import hybrid_choice

    info = [{"success_prob": 0.95, "chars_sent": 10, "chars_total": 10}] * 3
    assert hybrid_choice(np.array([0.99, 0.90, 0.95]), info).tolist() == [False, True, True]


def test_hybrid_margin_keeps_close_calls_with_the_better_scheme_of_the_snr():
    from semcom_ota.eval.text import hybrid_choice

    # digital favoured on average (mean 0.93 vs 0.90): a cut message expecting 0.88 stays digital with a
    # margin, one expecting 0.60 (clearly worse) goes semantic either way
    info = [{"success_prob": 0.99, "chars_sent": 10, "chars_total": 10}] * 8
    pre = [1.0] * 6 + [0.89, 0.61]
    assert hybrid_choice(0.90, info, pre).tolist() == [True] * 6 + [False, False]
    assert hybrid_choice(0.90, info, pre, margin=0.06).tolist() == [True] * 6 + [True, False]
    # semantic favoured on average (digital ~0.7): a message digital expects 0.96 of needs the margin
    info = [{"success_prob": p, "chars_sent": 10, "chars_total": 10} for p in (0.5, 0.45, 0.96, 0.999)]
    assert hybrid_choice(0.93, info).tolist() == [False, False, True, True]
    assert hybrid_choice(0.93, info, margin=0.06).tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match="margin"):
        hybrid_choice(0.93, info, margin=-0.1)
