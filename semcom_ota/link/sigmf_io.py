"""SigMF recording of any link, and the ``replay`` link that feeds a recording back to the receiver.

- :class:`SigmfWriter` streams complex64 samples to ``<base>.sigmf-data`` (``cf32_le``) and, on
  ``close()``, writes ``<base>.sigmf-meta``: sample rate, centre frequency, hardware, recorder,
  capture time, SHA-512, and one annotation per frame (``core:label`` plus ``semcom:seq``,
  ``semcom:codec_id``, ``semcom:n_symbols``).
- :class:`RecordingLink` wraps a link: what it receives goes to ``<base>``, what it sends to
  ``<base>-tx``. :func:`~semcom_ota.link.transport.transmit_frames` tells it where each frame lies
  (exact on the TX recording; on the RX recording located to within one receive chunk).
- :class:`ReplayLink` (``replay``) reads a recording and returns it chunk by chunk from ``recv``;
  ``send`` is not used (the transport knows a replay link carries no TX).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from semcom_ota.config import StrictModel, validate_config
from semcom_ota.frames import FrameMeta
from semcom_ota.link.base import Link, check_samples, links
from semcom_ota.link.errors import LinkError

log = logging.getLogger(__name__)

RECORDER = "semcom-ota"


def sigmf_base(path: str | Path) -> Path:
    """``x``, ``x.sigmf-meta`` or ``x.sigmf-data`` -> ``x`` (the common base path)."""
    p = Path(path)
    if p.name.endswith((".sigmf-meta", ".sigmf-data")):
        p = p.with_name(p.name.rsplit(".", 1)[0])
    return p


class SigmfWriter:
    """Stream complex64 samples into a SigMF recording.

    Parameters
    ----------
    path: base path (``.sigmf-data``/``.sigmf-meta`` are appended).
    sample_rate_hz: ``core:sample_rate``. center_freq_hz: the capture's ``core:frequency``.
    hardware: ``core:hw`` (device, driver, flowgraph). description: ``core:description``.
    extra_global: further global fields (namespaced keys such as ``semcom:phy``).
    """

    def __init__(self, path: str | Path, sample_rate_hz: float, center_freq_hz: float = 0.0, hardware: str = "",
                 description: str = "", extra_global: dict[str, Any] | None = None) -> None:
        if sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz={sample_rate_hz}: expected > 0")
        self.base = sigmf_base(path)
        self.base.parent.mkdir(parents=True, exist_ok=True)
        self.data_path = self.base.with_name(self.base.name + ".sigmf-data")
        self.meta_path = self.base.with_name(self.base.name + ".sigmf-meta")
        self.sample_rate_hz = float(sample_rate_hz)
        self.center_freq_hz = float(center_freq_hz)
        self.hardware = hardware
        self.description = description
        self.extra_global = dict(extra_global or {})
        self.started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self._fh = open(self.data_path, "wb")
        self.n_samples = 0
        self.annotations: list[tuple[int, int, dict[str, Any]]] = []
        self.closed = False

    def write(self, samples: np.ndarray) -> int:
        """Append complex64 ``[n]``; returns the sample index where they start."""
        x = check_samples(samples)
        start = self.n_samples
        self._fh.write(x.tobytes())
        self.n_samples += x.size
        return start

    def annotate(self, start: int, length: int, meta: FrameMeta | None = None, label: str = "", **fields: Any) -> None:
        """One annotation ``[start, start+length)``; with ``meta`` it carries the frame's header fields."""
        md: dict[str, Any] = {}
        if meta is not None:
            md.update({"core:label": label or f"frame seq={meta.seq} codec={meta.codec_id}", "semcom:seq": int(meta.seq),
                       "semcom:codec_id": int(meta.codec_id), "semcom:n_tiers": int(meta.n_tiers)})
        elif label:
            md["core:label"] = label
        md.update({f"semcom:{k}": v for k, v in fields.items()})
        self.annotations.append((max(0, int(start)), max(1, int(length)), md))

    def close(self) -> Path:
        """Write the metadata (with checksum) and return the ``.sigmf-meta`` path."""
        if self.closed:
            return self.meta_path
        self.closed = True
        self._fh.close()
        import sigmf
        from sigmf import SigMFFile

        info = {
            sigmf.DATATYPE_KEY: "cf32_le",
            sigmf.SAMPLE_RATE_KEY: self.sample_rate_hz,
            sigmf.RECORDER_KEY: RECORDER,
            sigmf.NUM_CHANNELS_KEY: 1,
        }
        if self.hardware:
            info[sigmf.HW_KEY] = self.hardware
        if self.description:
            info[sigmf.DESCRIPTION_KEY] = self.description
        info.update(self.extra_global)
        # the project's namespaced fields (semcom:seq, ...) are declared as an optional extension
        info[sigmf.EXTENSIONS_KEY] = [{"name": "semcom", "version": "0.1.0", "optional": True}]
        meta = SigMFFile(data_file=str(self.data_path), global_info=info)
        meta.add_capture(0, metadata={sigmf.FREQUENCY_KEY: self.center_freq_hz, sigmf.DATETIME_KEY: self.started})
        for start, length, md in sorted(self.annotations, key=lambda a: a[0]):
            if start < max(self.n_samples, 1):
                meta.add_annotation(start, min(length, max(1, self.n_samples - start)), metadata=md)
        meta.validate()
        meta.tofile(str(self.meta_path))
        log.info("SigMF recording: %s (%d samples, %d annotations)", self.meta_path, self.n_samples, len(self.annotations))
        return self.meta_path


def link_capture_info(link: Link) -> dict[str, Any]:
    """Sample rate, centre frequency and a hardware description of a link, for capture metadata."""
    rate, freq, hw = 1e6, 0.0, f"semcom-ota {getattr(link, 'name', type(link).__name__)} link"
    prof = getattr(link, "profile", None)
    if prof is not None:
        rate, freq = prof.sample_rate_hz, prof.center_freq_hz
        hw = f"SoapySDR {getattr(link, 'args', prof.driver)} (profile {prof.name}, LO offset {prof.lo_offset_hz:g} Hz)"
    elif getattr(link, "grc_path", None) is not None:
        hw = f"GNU Radio {link.grc_path.name}" + (f" + {link.rx_grc_path.name}" if getattr(link, "rx_grc_path", None) else "")
    elif getattr(link, "config", None) is not None and hasattr(link.config, "sample_rate_hz"):
        rate = float(link.config.sample_rate_hz)
    return {"sample_rate_hz": rate, "center_freq_hz": freq, "hardware": hw}


class RecordingLink(Link):
    """Wraps a link and records its RX (``<base>``) and TX (``<base>-tx``) IQ as SigMF.

    Parameters
    ----------
    inner: the link to wrap (it is closed with this one).
    path: base path of the RX recording.
    sample_rate_hz, center_freq_hz, hardware: capture metadata (default: from the inner link).
    extra_global: further SigMF global fields.
    """

    def __init__(self, inner: Link, path: str | Path, sample_rate_hz: float | None = None, center_freq_hz: float | None = None,
                 hardware: str | None = None, extra_global: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.name = f"{inner.name}+record"
        self.stats = inner.stats
        info = link_capture_info(inner)
        rate = sample_rate_hz or info["sample_rate_hz"]
        freq = info["center_freq_hz"] if center_freq_hz is None else center_freq_hz
        hw = hardware or info["hardware"]
        base = sigmf_base(path)
        self.rx = SigmfWriter(base, rate, freq, hw, f"received IQ of the {inner.name} link", extra_global)
        self.tx = SigmfWriter(base.with_name(base.name + "-tx"), rate, freq, hw, f"transmitted IQ of the {inner.name} link",
                              extra_global)

    @property
    def is_replay(self) -> bool:
        return getattr(self.inner, "is_replay", False)

    def send(self, samples: np.ndarray) -> None:
        x = check_samples(samples)
        self.inner.send(x)
        self.tx.write(x)

    def recv(self, timeout_s: float = 0.1) -> np.ndarray:
        y = self.inner.recv(timeout_s)
        if y.size:
            self.rx.write(y)
        return y

    def note_tx_frame(self, offset_from_end: int, length: int, meta: FrameMeta) -> None:
        """The frame occupies ``length`` samples ending ``offset_from_end`` samples before the TX end."""
        self.tx.annotate(self.tx.n_samples - offset_from_end - length, length, meta)

    def note_rx_frame(self, length: int, meta: FrameMeta, status: str, snr_db: float) -> None:
        """A frame the receiver just returned: it ended within the last received chunk."""
        self.rx.annotate(self.rx.n_samples - length, length, meta, status=status,
                         snr_est_db=None if not np.isfinite(snr_db) else round(float(snr_db), 2),
                         position="ends within the receive chunk before sample_start+sample_count")

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.rx.close()
            self.tx.close()


class ReplayLinkConfig(StrictModel):
    """Configuration of the ``replay`` link.

    path: a SigMF recording (base path, ``.sigmf-meta`` or ``.sigmf-data``).
    chunk_samples: samples returned per ``recv`` call.
    loop: start again at the end instead of returning nothing.
    """

    path: str
    chunk_samples: int = Field(65536, ge=1)
    loop: bool = False


@links.register("replay")
class ReplayLink(Link):
    """A SigMF recording played back to the receiver (see the module doc).

    ``recv`` returns complex64 ``[<= chunk_samples]`` (empty at the end unless ``loop``);
    ``send`` raises, since a recording has no TX side.
    """

    name = "replay"
    Config = ReplayLinkConfig
    is_replay = True

    def __init__(self, config: ReplayLinkConfig | None = None, **kw) -> None:
        super().__init__()
        self.config = config if config is not None else validate_config(ReplayLinkConfig, kw, "replay link config")
        import sigmf

        base = sigmf_base(self.config.path)
        meta_path = base.with_name(base.name + ".sigmf-meta")
        if not meta_path.is_file():
            raise FileNotFoundError(f"replay path={self.config.path!r}: {meta_path} not found (expected a SigMF recording)")
        try:
            self.recording = sigmf.sigmffile.fromfile(str(base))
        except Exception as err:  # sigmf raises several kinds for a broken recording
            raise LinkError(f"replay path={self.config.path!r}: not a valid SigMF recording ({err})") from None
        dtype = self.recording.get_global_field(sigmf.DATATYPE_KEY)
        if dtype not in ("cf32_le", "cf32"):
            log.info("replay: %s is %s; samples are converted to complex64", base, dtype)
        self.samples = np.asarray(self.recording.read_samples(), dtype=np.complex64).ravel()
        self.sample_rate_hz = float(self.recording.get_global_field(sigmf.SAMPLE_RATE_KEY) or 0.0)
        self.pos = 0

    @property
    def annotations(self) -> list[dict[str, Any]]:
        return list(self.recording.get_annotations())

    def send(self, samples: np.ndarray) -> None:
        raise LinkError("replay link: a recording has no TX side (send() is not available)")

    def recv(self, timeout_s: float = 0.1) -> np.ndarray:
        n = self.samples.size
        if self.pos >= n:
            if not self.config.loop or n == 0:
                return np.zeros(0, np.complex64)
            self.pos = 0
        out = self.samples[self.pos:self.pos + self.config.chunk_samples]
        self.pos += out.size
        self.stats.samples_received += out.size
        return out

    def close(self) -> None:
        self.samples = np.zeros(0, np.complex64)
