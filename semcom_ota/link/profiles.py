"""SDR device profiles (``sdr/*.yaml``): rate, centre frequency, gains, bandwidth, LO offset, buffers.

A profile is data validated into :class:`DeviceProfile` (unknown keys rejected; gains checked
against each element's range and step, the sample rate against the device's range, the LO offset
against the Nyquist band). Load one by name (``load_profile("hackrf_one")``) or by path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from semcom_ota.config import StrictModel, load_yaml


def sdr_dir() -> Path:
    """Directory of the device profiles and the loopback driver (``$SEMCOM_SDR_DIR`` overrides)."""
    env = os.environ.get("SEMCOM_SDR_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "sdr"


class GainElement(StrictModel):
    """One gain stage: its setting and the range/step the hardware accepts (dB)."""

    value_db: float
    min_db: float
    max_db: float
    step_db: float = Field(1.0, gt=0.0)

    @model_validator(mode="after")
    def _in_range(self) -> "GainElement":
        if not self.min_db <= self.max_db:
            raise ValueError(f"min_db={self.min_db} > max_db={self.max_db}")
        if not self.min_db <= self.value_db <= self.max_db:
            raise ValueError(f"value_db={self.value_db}: expected {self.min_db}..{self.max_db} dB")
        k = (self.value_db - self.min_db) / self.step_db
        if abs(k - round(k)) > 1e-6:
            raise ValueError(f"value_db={self.value_db}: expected a multiple of step_db={self.step_db} from {self.min_db}")
        return self


class DirectionSettings(StrictModel):
    """Settings of one direction (TX or RX) of channel 0."""

    antenna: str | None = None
    gains: dict[str, GainElement] = Field(default_factory=dict)
    buffer_samples: int = Field(1 << 20, ge=1024, description="host-side buffer (samples)")


class DeviceProfile(StrictModel):
    """A radio as the ``soapy`` link and the gr-soapy flowgraphs use it.

    name: profile name. driver: SoapySDR driver key (``uhd``, ``hackrf``, ``loopback``); it is always
    part of the device arguments, so no unfiltered enumeration ever happens.
    args: further device arguments (e.g. ``serial``). sample_rate_hz within
    [min_sample_rate_hz, max_sample_rate_hz]. center_freq_hz: RF centre. lo_offset_hz: the LO is tuned
    this far away and the baseband CORDIC/NCO shifts back (offset tuning: keeps the DC spike and LO
    leakage off the signal); |lo_offset_hz| < sample_rate_hz/2. bandwidth_hz: analog filter.
    duplex: full (TX and RX at once) or half. sample_bits: converter resolution. timed_bursts: the
    device honours timestamps on TX bursts. stream_format: host sample format. tx_rms: the RMS the
    PHY should transmit at (backoff from full scale 1.0).
    """

    name: str
    description: str = ""
    driver: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_]+$")
    args: dict[str, str] = Field(default_factory=dict)
    sample_rate_hz: float = Field(gt=0.0)
    min_sample_rate_hz: float = Field(0.0, ge=0.0)
    max_sample_rate_hz: float = Field(1e9, gt=0.0)
    center_freq_hz: float = Field(gt=0.0)
    lo_offset_hz: float = 0.0
    bandwidth_hz: float | None = Field(None, gt=0.0)
    duplex: Literal["full", "half"] = "full"
    sample_bits: int = Field(12, ge=1, le=32)
    timed_bursts: bool = False
    stream_format: Literal["CF32", "CS16", "CS8"] = "CF32"
    tx_rms: float = Field(0.25, gt=0.0, le=1.0)
    tx: DirectionSettings = Field(default_factory=DirectionSettings)
    rx: DirectionSettings = Field(default_factory=DirectionSettings)

    @model_validator(mode="after")
    def _consistent(self) -> "DeviceProfile":
        if not self.min_sample_rate_hz <= self.sample_rate_hz <= self.max_sample_rate_hz:
            raise ValueError(f"sample_rate_hz={self.sample_rate_hz:g}: expected {self.min_sample_rate_hz:g}.."
                             f"{self.max_sample_rate_hz:g} for this device")
        if abs(self.lo_offset_hz) >= self.sample_rate_hz / 2:
            raise ValueError(f"lo_offset_hz={self.lo_offset_hz:g}: expected |offset| < sample_rate_hz/2 = "
                             f"{self.sample_rate_hz / 2:g} (the shifted signal must stay in band)")
        if "driver" in self.args:
            raise ValueError("args.driver: set the top-level 'driver' key instead")
        return self

    def device_args(self, extra: str = "") -> str:
        """SoapySDR argument string ``driver=...,k=v,...`` plus ``extra`` (``k=v,...``)."""
        parts = [f"driver={self.driver}"] + [f"{k}={v}" for k, v in self.args.items()]
        if extra:
            for kv in extra.split(","):
                if kv.strip():
                    if "=" not in kv:
                        raise ValueError(f"device_args={extra!r}: expected comma-separated key=value pairs")
                    if kv.split("=", 1)[0].strip() == "driver":
                        raise ValueError(f"device_args={extra!r}: the driver comes from the profile ({self.driver})")
                    parts.append(kv.strip())
        return ",".join(parts)


def load_profile(name_or_path: str | Path) -> DeviceProfile:
    """Load ``sdr/<name>.yaml`` or a profile file by path."""
    p = Path(name_or_path)
    if not (p.suffix in (".yaml", ".yml") and p.is_file()):
        p = sdr_dir() / f"{name_or_path}.yaml"
    if not p.is_file():
        known = sorted(q.stem for q in sdr_dir().glob("*.yaml"))
        raise FileNotFoundError(f"device profile {name_or_path!r}: not a file and not one of {known} in {sdr_dir()}")
    return load_yaml(p, DeviceProfile)
