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
