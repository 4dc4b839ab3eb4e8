"""SoapySDR paths with the project's loopback driver, run in an isolated network namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from semcom_ota.config import ConfigError, validate_config
from semcom_ota.link import LinkError, open_link
from semcom_ota.link.profiles import DeviceProfile, load_profile

import subprocess
import sys

SCEN = str(Path(__file__).with_name("soapy_scenarios.py"))


def run_isolated(module_file: str, func: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess:
    """Run ``func()`` of ``module_file`` in ``unshare -n`` (loopback interface only) with the venv's Python."""
    code = (f"import importlib.util, sys; spec = importlib.util.spec_from_file_location('scen', {module_file!r}); "
            f"m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); m.{func}()")
    return subprocess.run(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" -c "$1"', sys.executable, code],
                          capture_output=True, text=True, timeout=timeout_s)


def _check(func: str, timeout_s: float = 120.0) -> None:
    r = run_isolated(SCEN, func, timeout_s)
    assert r.returncode == 0, f"{func} failed (rc={r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


pytestmark = pytest.mark.soapy


@pytest.mark.usefixtures("loopback_driver", "netns")
def test_soapy_direct_through_loopback_driver_matches_sim():
    _check("soapy_direct_matches_sim")


@pytest.mark.usefixtures("loopback_driver", "netns")
def test_soapy_return_codes_are_counted_and_survived():
    _check("soapy_return_codes_counted_and_survived")


@pytest.mark.usefixtures("loopback_driver", "netns")
def test_soapy_timed_bursts_carry_has_time():
    _check("soapy_timed_bursts")


@pytest.mark.usefixtures("loopback_driver", "netns")
def test_soapy_rx_only_link():
    _check("soapy_rx_only_link_times_out_cleanly")


@pytest.mark.gnuradio
@pytest.mark.usefixtures("loopback_driver", "netns", "gnuradio_available")
def test_gr_soapy_tx_and_rx_flowgraphs_through_loopback_driver():
    _check("gr_soapy_flowgraph_pair")


def test_profiles_validate_and_encode_hardware_limits():
    h = load_profile("hackrf_one")
    assert h.duplex == "half" and h.sample_bits == 8 and h.sample_rate_hz >= 8e6
    assert h.tx.gains["VGA"].max_db == 47 and h.tx.gains["AMP"].step_db == 14 and h.lo_offset_hz != 0
    b = load_profile("usrp_b210")
    assert b.duplex == "full" and b.timed_bursts and b.device_args() == "driver=uhd,type=b200"
    assert load_profile("loopback").device_args("noise_std=0.1") == "driver=loopback,noise_std=0.1"
    data = h.model_dump()
    with pytest.raises(ConfigError, match="sample_rate_hz=2e\\+06: expected 8e\\+06..2e\\+07"):
        validate_config(DeviceProfile, {**data, "sample_rate_hz": 2e6}, "hackrf")
    bad_gain = {**data, "tx": {**data["tx"], "gains": {"VGA": {"value_db": 48, "min_db": 0, "max_db": 47}}}}
    with pytest.raises(ConfigError, match="value_db=48.0: expected 0.0..47.0 dB"):
        validate_config(DeviceProfile, bad_gain, "hackrf")
    amp7 = {**data, "tx": {**data["tx"], "gains": {"AMP": {"value_db": 7, "min_db": 0, "max_db": 14, "step_db": 14}}}}
    with pytest.raises(ConfigError, match="multiple of step_db=14"):
        validate_config(DeviceProfile, amp7, "hackrf")
    with pytest.raises(ConfigError, match="lo_offset_hz"):
        validate_config(DeviceProfile, {**data, "lo_offset_hz": 5e6}, "hackrf")
    with pytest.raises(FileNotFoundError, match="device profile 'nope'"):
        load_profile("nope")
    with pytest.raises(ValueError, match="the driver comes from the profile"):
        h.device_args("driver=uhd")


def test_half_duplex_profile_refuses_tx_and_rx_on_one_device():
    with pytest.raises(LinkError, match="half duplex"):
        open_link("soapy", profile="hackrf_one")
    with pytest.raises(LinkError, match="only the loopback driver can add noise"):
        open_link("soapy", profile="hackrf_one", tx=False, snr_db=10)


@pytest.mark.gnuradio
@pytest.mark.usefixtures("netns", "gnuradio_available")
def test_uhd_flowgraphs_without_a_radio_fail_with_uhds_reason():
    from semcom_ota.link.grc import compile_flowgraph, find_flowgraph, inspect_flowgraph

    for name in ("tx_uhd", "rx_uhd"):
        assert "uhd.usrp_" in compile_flowgraph(name).read_text()
        assert {"dev_args", "samp_rate", "freq", "lo_offset", "gain"} <= set(inspect_flowgraph(find_flowgraph(name)).parameters)
    _check("uhd_without_radio_fails_clearly")
