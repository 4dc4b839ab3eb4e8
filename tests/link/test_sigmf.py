"""SigMF recording of a link and replay of the recording through the receiver."""

from __future__ import annotations

import json

import numpy as np
import pytest

from semcom_ota.link import LinkError, open_link, random_frames, transmit_frames
from semcom_ota.link.sigmf_io import SigmfWriter
from semcom_ota.link.transport import nmse_db


def test_record_then_replay_decodes_the_same_frames(rng, tmp_path):
    frames = random_frames(20, 240, rng)
    base = tmp_path / "rec" / "sim20"
    with open_link("sim", snr_db=20, seed=9, record=str(base), record_meta={"semcom:note": "test"}) as link:
        live = transmit_frames(frames, link)
        received = link.stats.samples_received
    assert live.decoded == 20
    meta = json.loads((tmp_path / "rec" / "sim20.sigmf-meta").read_text())
    g = meta["global"]
    assert g["core:datatype"] == "cf32_le" and g["core:sample_rate"] > 0 and g["core:recorder"] == "semcom-ota"
    assert "sim" in g["core:hw"] and g["semcom:note"] == "test" and len(g["core:sha512"]) == 128
    assert meta["captures"][0]["core:sample_start"] == 0 and "core:frequency" in meta["captures"][0]
    assert (tmp_path / "rec" / "sim20.sigmf-data").stat().st_size == 8 * received
    rx_ann = meta["annotations"]
    assert [a["semcom:seq"] for a in rx_ann] == list(range(20))
    assert all(a["semcom:status"] == "ok" for a in rx_ann)
    tx_meta = json.loads((tmp_path / "rec" / "sim20-tx.sigmf-meta").read_text())
    tx_ann = tx_meta["annotations"]
    assert [a["semcom:seq"] for a in tx_ann] == list(range(20))
    tx = np.fromfile(tmp_path / "rec" / "sim20-tx.sigmf-data", np.complex64)
    a0 = tx_ann[0]
    seg = tx[a0["core:sample_start"]:a0["core:sample_start"] + a0["core:sample_count"]]
    # the annotation covers the burst (its guards are zeros), not the idle gap before it
    assert np.count_nonzero(seg) > 0.8 * seg.size and not tx[a0["core:sample_start"] - 400:a0["core:sample_start"]].any()

    with open_link("replay", path=str(base) + ".sigmf-meta", chunk_samples=3000) as link:
        assert len(link.annotations) == 20
        replayed = transmit_frames(frames, link, timeout_s=2.0)
    assert replayed.decoded == 20 and [r.meta.seq for r in replayed.rx] == list(range(20))
    for a, b in zip(live.rx, replayed.rx):
        np.testing.assert_allclose(a.symbols, b.symbols, atol=1e-4)
    assert nmse_db(frames, replayed.rx) == pytest.approx(nmse_db(frames, live.rx), abs=0.01)


def test_replay_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected a SigMF recording"):
        open_link("replay", path=str(tmp_path / "missing"))
    w = SigmfWriter(tmp_path / "z", 1e6, 915e6, "test")
    w.write(np.ones(10, np.complex64))
    w.close()
    with open_link("replay", path=str(tmp_path / "z.sigmf-data"), loop=True, chunk_samples=4) as link:
        got = np.concatenate([link.recv() for _ in range(5)])
        assert got.size == 18  # 4 + 4 + 2, then from the start again: 4 + 4
        with pytest.raises(LinkError, match="no TX side"):
            link.send(np.zeros(1, np.complex64))
    with pytest.raises(ValueError, match="sample_rate_hz=0"):
        SigmfWriter(tmp_path / "bad", 0.0)
