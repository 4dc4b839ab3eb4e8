"""semcom eval image: rows, equal channel uses, common channel realisations, clear errors."""

import numpy as np
import pytest
from typer.testing import CliRunner

from semcom_ota.cli.main import app
from semcom_ota.eval.image import ImageEvalConfig, evaluate_image, parse_cbr, twin_channel
from semcom_ota.frames import SemanticFrame
from semcom_ota.semantic.image.codec import centre_crop


@pytest.fixture(scope="module")
def images():
    from semcom_ota.data.samples import load_samples

    return [(n, centre_crop(im, 64)) for n, im in load_samples().photos[:2]]


def test_rows_for_every_scheme_snr_and_metric(images):
    cfg = ImageEvalConfig(snr_db=(0.0, 20.0), channel="awgn", cbr=parse_cbr("1/12"), schemes=("semantic", "ideal-separation"))
    rows = evaluate_image(cfg, images)
    assert len(rows) == 2 * 2 * 2
    assert {r.channel_uses for r in rows} == {64 * 64 * 3 // 12}
    assert {(r.scheme, r.snr_db, r.metric) for r in rows} == {
        (s, snr, m) for s in ("semantic", "ideal-separation") for snr in (0.0, 20.0) for m in ("psnr_db", "ms_ssim")}
    v = {(r.scheme, r.snr_db, r.metric): r.value for r in rows}
    assert v[("ideal-separation", 20.0, "psnr_db")] > v[("ideal-separation", 0.0, "psnr_db")]
    assert all(r.n_items == 2 and r.task == "image" and r.channel == "awgn" for r in rows)


def test_every_scheme_sees_the_same_fades():
    send = twin_channel("rayleigh", seed=3)
    sym = np.ones(256, np.complex64)
    f = SemanticFrame(sym, [256])
    a = send([f, f], 10.0)
    b = send([f, f], 10.0)
    assert np.array_equal(a[0].noise_var, b[0].noise_var) and np.array_equal(a[1].noise_var, b[1].noise_var)
    assert a[0].noise_var[0] != a[1].noise_var[0]  # independent fades across frames


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="cbr='1/0'"):
        parse_cbr("1/0")
    with pytest.raises(ValueError, match="channel='rician'"):
        ImageEvalConfig(channel="rician")
    with pytest.raises(ValueError, match="unknown \\['mp3'\\]"):
        ImageEvalConfig(schemes=("mp3",))
    res = CliRunner().invoke(app, ["eval", "image", "--data", "/nonexistent", "--snr-db", "10"])
    assert res.exit_code != 0 and "expected 'photos' or a directory" in res.output
    res = CliRunner().invoke(app, ["eval", "image", "--snr-db", "10", "--draws", "0"])
    assert res.exit_code != 0 and "draws=0" in res.output


def test_tx_snr_offset_plans_for_a_worse_channel_than_it_gets(images):
    """With the TX assuming 15 dB less than the channel gives, the digital scheme picks a robust
    low-rate MCS (lower PSNR at 20 dB than when it knows the SNR), and the row label says so."""
    base = dict(snr_db=(20.0,), channel="awgn", cbr=parse_cbr("1/12"), schemes=("avif+ldpc",))
    known = evaluate_image(ImageEvalConfig(**base), images)
    pess = evaluate_image(ImageEvalConfig(**base, tx_snr_offset_db=15.0), images)
    psnr = lambda rows: next(r.value for r in rows if r.metric == "psnr_db")  # noqa: E731
    assert psnr(pess) < psnr(known) - 1.0
    assert pess[0].channel == "awgn (tx assumes -15 dB)" and pess[0].snr_db == 20.0
    with pytest.raises(ValueError, match="tx_snr_offset_db=nan"):
        ImageEvalConfig(tx_snr_offset_db=float("nan"))


def test_draws_send_every_frame_several_times_through_distinct_fades(images):
    """``draws=3``: each image's frame goes through 3 channel realisations (n_items = 3 per image); the
    first draw of each image is the ``draws=1`` run (same seeds), so only the extra fades change the mean."""
    base = dict(snr_db=(5.0,), channel="rayleigh", cbr=parse_cbr("1/12"), schemes=("semantic",))
    one = evaluate_image(ImageEvalConfig(**base), images)
    three = evaluate_image(ImageEvalConfig(**base, draws=3), images)
    assert {r.n_items for r in one} == {2} and {r.n_items for r in three} == {6}
    psnr = lambda rows: next(r.value for r in rows if r.metric == "psnr_db")  # noqa: E731
    assert psnr(one) != psnr(three)
    send = twin_channel("rayleigh", seed=0)
    f = SemanticFrame(np.ones(64, np.complex64), [64])
    fades = [rx.noise_var[0] for rx in send([f] * 6, 5.0)]
    assert len(set(np.round(fades, 6))) == 6  # frame i + r·N: a new fade per draw
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="draws="):
            ImageEvalConfig(draws=bad)
