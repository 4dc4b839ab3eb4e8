"""`semcom channel list|show`."""

from __future__ import annotations

from typer.testing import CliRunner

from semcom_ota.cli.main import app

runner = CliRunner()


def test_channel_list_names_every_preset():
    from semcom_ota.channel.sim import PRESETS

    res = runner.invoke(app, ["channel", "list"])
    assert res.exit_code == 0, res.output
    for name in PRESETS:
        assert name in res.output


def test_channel_show_preset_chain_in_order():
    res = runner.invoke(app, ["channel", "show", "--preset", "hardware"])
    assert res.exit_code == 0, res.output
    stages = ["timing", "CFO", "phase noise", "IQ imbalance", "DC offset", "AWGN"]
    pos = [res.output.index(s) for s in stages]
    assert pos == sorted(pos)
    assert "image rejection 28.2 dB" in res.output


def test_channel_show_overrides_and_config(tmp_path):
    res = runner.invoke(app, ["channel", "show", "-p", "eva", "--set", "snr_db=3", "--set", "doppler_hz=70"])
    assert res.exit_code == 0, res.output
    assert "SNR 3 dB" in res.output and "Doppler 70 Hz" in res.output and "EVA" in res.output
    f = tmp_path / "c.yaml"
    f.write_text("fading: rician\nrician_k_db: 9\n")
    res = runner.invoke(app, ["channel", "show", "--config", str(f)])
    assert res.exit_code == 0 and "K=9 dB" in res.output


def test_channel_show_rejects_bad_values():
    res = runner.invoke(app, ["channel", "show", "-p", "awgn", "--set", "snr_db=500"])
    assert res.exit_code == 2 and "snr_db" in res.output
    res = runner.invoke(app, ["channel", "show", "-p", "nope"])
    assert res.exit_code != 0 and "nope" in res.output
    res = runner.invoke(app, ["channel", "show"])
    assert res.exit_code != 0


def test_channel_apply_writes_the_channel_output(tmp_path):
    import numpy as np

    from semcom_ota.channel.sim import ChannelSimulator, preset_config

    rng = np.random.default_rng(0)
    x = ((rng.standard_normal(5000) + 1j * rng.standard_normal(5000)) / np.sqrt(2)).astype(np.complex64)
    src = tmp_path / "in.cf32"
    x.tofile(src)
    out = tmp_path / "out.cf32"
    res = runner.invoke(app, ["channel", "apply", str(src), str(out), "-p", "epa", "--set", "snr_db=12", "--seed", "4"])
    assert res.exit_code == 0, res.output
    y = np.fromfile(out, dtype="<c8")
    ref = ChannelSimulator(preset_config("epa", snr_db=12.0), seed=4).apply(x)
    assert np.array_equal(y, ref)
    out_npy = tmp_path / "out.npy"
    res = runner.invoke(app, ["channel", "apply", str(src), str(out_npy), "-p", "hardware", "--chunk", "700", "--seed", "1"])
    assert res.exit_code == 0, res.output
    assert abs(np.load(out_npy).size - x.size) < 20
    bad = tmp_path / "bad.cf32"
    bad.write_bytes(b"123")
    res = runner.invoke(app, ["channel", "apply", str(bad), str(out), "-p", "awgn"])
    assert res.exit_code != 0 and "multiple of 8" in res.output
