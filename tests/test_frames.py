import numpy as np
import pytest

from semcom_ota.frames import FrameMeta, FrameStatus, RxSemanticFrame, SemanticFrame, normalise_power


def _frame(n=64, tiers=(16, 32, 64)):
    rng = np.random.default_rng(0)
    z = normalise_power(rng.standard_normal(n) + 1j * rng.standard_normal(n))
    return SemanticFrame(z, list(tiers), FrameMeta(codec_id=3, seq=300))


def test_semantic_frame_validates_and_wraps_seq():
    f = _frame()
    assert f.symbols.dtype == np.complex64 and abs(np.mean(np.abs(f.symbols) ** 2) - 1) < 1e-5
    assert f.meta.seq == 300 % 256 and f.meta.n_tiers == 3


@pytest.mark.parametrize(
    "tiers, msg",
    [([16, 32], "ending at n=64"), ([32, 16, 64], "strictly increasing"), ([0, 64], "strictly increasing")],
)
def test_bad_tiers_rejected(tiers, msg):
    z = np.ones(64, np.complex64)
    with pytest.raises(ValueError, match=msg):
        SemanticFrame(z, tiers)


def test_bad_symbols_rejected():
    with pytest.raises(TypeError, match="complex64"):
        SemanticFrame(np.ones(8, np.float32), [8])
    with pytest.raises(ValueError, match=r"shape \[n\]"):
        SemanticFrame(np.ones((2, 4), np.complex64), [8])
    with pytest.raises(ValueError, match="codec_id"):
        FrameMeta(codec_id=16)


def test_truncate_only_at_tier_ends():
    f = _frame()
    t = f.truncate(32)
    assert t.n == 32 and t.tiers == [16, 32]
    with pytest.raises(ValueError, match="tier ends"):
        f.truncate(20)


def test_rx_frame_lost_and_shapes():
    f = _frame()
    lost = RxSemanticFrame.lost(f.meta, f.n, FrameStatus.CRC_FAIL)
    assert not lost.mask.any() and np.isinf(lost.noise_var).all() and not lost.status.decodable
    with pytest.raises(ValueError, match="must be"):
        RxSemanticFrame(f.symbols, np.ones(3, bool), np.ones(64, np.float32), 10.0, f.meta)
    ok = RxSemanticFrame.from_ideal(f, f.symbols, 0.1, 10.0)
    assert ok.status is FrameStatus.OK and ok.noise_var.shape == (64,)
