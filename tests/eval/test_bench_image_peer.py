"""scripts/bench/image_peer.py: CPU-budget accounting, the peer's latent size per k/n, the lr schedule."""

from __future__ import annotations

import importlib.util
import sys
from fractions import Fraction
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "bench" / "image_peer.py"


@pytest.fixture(scope="module")
def peer():
    spec = importlib.util.spec_from_file_location("bench_image_peer", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_image_peer"] = mod
    spec.loader.exec_module(mod)
    return mod


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_budget_counts_process_time_since_start_plus_earlier_runs(peer):
    clk = FakeClock()
    b = peer.CpuBudget(60.0, spent_before_s=20.0, clock=clk)
    with pytest.raises(RuntimeError, match="before start"):
        b.spent()
    b.start()
    assert b.spent() == 20.0 and not b.done()
    clk.t += 30.0
    assert b.spent() == 50.0 and b.fraction() == pytest.approx(50 / 60)
    clk.t += 10.0
    assert b.done() and b.fraction() == 1.0
    clk.t += 100.0
    assert b.fraction() == 1.0  # clamped: the lr schedule never runs past its end


def test_budget_rejects_bad_values(peer):
    with pytest.raises(ValueError, match="total_s"):
        peer.CpuBudget(0.0)
    with pytest.raises(ValueError, match="spent_before_s"):
        peer.CpuBudget(10.0, spent_before_s=-1.0)


def test_cosine_lr_endpoints(peer):
    assert peer.cosine_lr(0.0) == pytest.approx(peer.LR)
    assert peer.cosine_lr(1.0) == pytest.approx(peer.LR_FINAL)
    assert peer.cosine_lr(0.5) == pytest.approx((peer.LR + peer.LR_FINAL) / 2)
    assert peer.cosine_lr(2.0) == pytest.approx(peer.LR_FINAL)


def test_peer_filters_match_the_channel_budget(peer):
    # c real values per (H/4)(W/4) position -> c/2 * H*W/16 complex symbols = k/n * H*W*3
    for cbr, c in ((Fraction(1, 12), 8), (Fraction(1, 24), 4), (Fraction(1, 6), 16)):
        assert peer.peer_filters(cbr) == c
        assert c // 2 * (128 // 4) ** 2 == round(cbr * 128 * 128 * 3)
    with pytest.raises(ValueError, match="1/96"):
        peer.peer_filters(Fraction(1, 100))
    with pytest.raises(ValueError, match="k/n"):
        peer.parse_ratio("1/0")


@pytest.mark.skipif(not (Path(__file__).parents[2] / ".peer-venv" / "bin" / "python").is_file(),
                    reason="no .peer-venv (pykaira lives only there; see README 'Peer: pykaira DeepJSCC')")
def test_peer_model_symbol_count_and_power(peer, tmp_path):
    """Under the peer venv: pykaira's encoder gives k = k/n·H·W·3 unit-power symbols per image."""
    import subprocess

    code = ("import sys, torch; sys.path.insert(0, %r); import importlib.util as u; "
            "s = u.spec_from_file_location('p', %r); m = u.module_from_spec(s); s.loader.exec_module(m); "
            "net = m.PeerDeepJSCC(8); z = net.encode(torch.rand(2, 3, 128, 128)); "
            "print(tuple(z.shape), float(z.abs().pow(2).mean(1).min()), tuple(net.decode(z, (128, 128)).shape))"
            % (str(SCRIPT.parents[2]), str(SCRIPT)))
    out = subprocess.run([str(SCRIPT.parents[2] / ".peer-venv" / "bin" / "python"), "-c", code],
                         capture_output=True, text=True, check=True, timeout=300).stdout.split("\n")[-2]
    assert out.startswith("(2, 4096)") and out.endswith("(2, 3, 128, 128)")
    assert abs(float(out.split()[2]) - 1.0) < 1e-3


def test_ours_arch_builds_the_shipped_cards_networks(peer):
    """--arch plain: PlainJSCC width 48 (as models/image_semantic_plain.yaml), own checkpoint name;
    resaf unchanged; an unknown arch is refused."""
    from semcom_ota.semantic.image.model import ImageJSCC, PlainJSCC

    plain = peer.ours_model("plain")
    assert isinstance(plain, PlainJSCC) and (plain.width, plain.n_complex, plain.group) == (48, 8, 1)
    resaf = peer.ours_model("resaf")
    assert isinstance(resaf, ImageJSCC) and (resaf.n_complex, resaf.group) == (32, 4)
    assert peer.ours_arch("resaf")[0] == "ours" and peer.ours_arch("plain")[0] == "ours_plain"
    with pytest.raises(ValueError, match="arch='wide'.*expected one of"):
        peer.ours_model("wide")
    with pytest.raises(SystemExit):
        peer.main(["eval", "--arch", "wide"])
