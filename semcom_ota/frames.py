"""The contract between the semantic layer and the PHY (DESIGN §2).

The semantic layer never sees samples and the PHY never sees tensors: they meet here.

- :class:`SemanticFrame` (TX): importance-ordered unit-power complex64 symbols plus tier ends.
- :class:`RxSemanticFrame` (RX): what the receiver recovered, with a mask for missing symbols,
  a per-symbol noise variance after equalisation, the estimated SNR and a status.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Limits of the over-the-air header fields (DESIGN §3); the PHY enforces them.
MAX_CODEC_ID = 15
MAX_SEQ = 255
MAX_TIERS = 15


class FrameStatus(str, enum.Enum):
    """Why a received frame is (or is not) usable. Every frame sent ends in exactly one of these."""

    OK = "ok"
    TRUNCATED = "truncated"  # payload cut short: the tail is masked out, the rest decodes
    CRC_FAIL = "crc_fail"  # header CRC failed: the frame is lost, never decoded
    BAD_SAMPLES = "bad_samples"  # NaN/inf samples inside the frame
    SYNC_FAIL = "sync_fail"  # detected but could not be synchronised (CFO/timing)
    TIMEOUT = "timeout"  # never arrived within the receive timeout
    DECODE_FAIL = "decode_fail"  # the codec could not decode it

    @property
    def decodable(self) -> bool:
        return self in (FrameStatus.OK, FrameStatus.TRUNCATED)


@dataclass
class FrameMeta:
    """What travels in the PHY header (plus a few TX-side-only fields).

    Parameters
    ----------
    codec_id: registry number of the codec or scheme that made the frame (0..15, sent in the header).
    seq: sequence number (0..255, sent in the header; wraps).
    snr_db: the SNR (dB) the encoder assumed (sent quantised in the header).
    n_tiers: number of importance tiers (sent in the header).
    flags: 3 free bits sent in the header (scheme specific, e.g. hybrid layer).
    content_shape: shape of the content the frame carries; not sent over the air (the receiver
        knows it from the codec's model card), kept here for bookkeeping on one host.
    extra: free-form, TX-side only (never sent).
    """

    codec_id: int = 0
    seq: int = 0
    snr_db: float = 10.0
    n_tiers: int = 1
    flags: int = 0
    content_shape: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= int(self.codec_id) <= MAX_CODEC_ID:
            raise ValueError(f"FrameMeta.codec_id={self.codec_id}: expected 0..{MAX_CODEC_ID}")
        if not 0 <= int(self.flags) <= 7:
            raise ValueError(f"FrameMeta.flags={self.flags}: expected 0..7 (3 bits)")
        if not 1 <= int(self.n_tiers) <= MAX_TIERS:
            raise ValueError(f"FrameMeta.n_tiers={self.n_tiers}: expected 1..{MAX_TIERS}")
        self.seq = int(self.seq) % (MAX_SEQ + 1)


_COMPLEX64 = np.dtype(np.complex64)


def check_complex_1d(x: np.ndarray, name: str) -> np.ndarray:
    """Validate a 1-D complex array (symbols or samples) and return it as contiguous complex64.
    Errors name the input, what it was and what was expected. Used by the frames, the PHY and the links."""
    if type(x) is np.ndarray and x.dtype == _COMPLEX64 and x.ndim == 1 and x.flags.c_contiguous:
        return x  # already what is expected (the receiver's per-frame path: no conversions to try)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array of complex64, got {type(x).__name__}")
    if x.ndim != 1:
        raise ValueError(f"{name}: expected shape [n], got {x.shape}")
    if not np.iscomplexobj(x):
        raise TypeError(f"{name}: expected complex64, got dtype {x.dtype}")
    return np.ascontiguousarray(x, dtype=np.complex64)


def normalise_power(symbols: np.ndarray) -> np.ndarray:
    """Scale complex symbols ``[n]`` to unit average power (returns complex64)."""
    symbols = np.asarray(symbols, dtype=np.complex64)
    p = float(np.mean(np.abs(symbols) ** 2)) if symbols.size else 0.0
    return symbols if p == 0.0 else (symbols / np.sqrt(p)).astype(np.complex64)


@dataclass
class SemanticFrame:
    """TX side of the contract.

    Parameters
    ----------
    symbols: complex64 ``[n]``, unit average power, sorted by decreasing importance.
    tiers: end index (exclusive) of each importance tier, increasing, last == n. Truncating
        ``symbols`` at any tier end must still decode (gracefully worse).
    meta: :class:`FrameMeta`.
    """

    symbols: np.ndarray
    tiers: list[int]
    meta: FrameMeta = field(default_factory=FrameMeta)

    def __post_init__(self) -> None:
        self.symbols = check_complex_1d(self.symbols, "SemanticFrame.symbols")
        n = self.symbols.shape[0]
        self.tiers = [int(t) for t in self.tiers]
        if not self.tiers or self.tiers[-1] != n:
            raise ValueError(f"SemanticFrame.tiers={self.tiers}: expected increasing tier ends ending at n={n}")
        if any(b <= a for a, b in zip([0] + self.tiers[:-1], self.tiers)):
            raise ValueError(f"SemanticFrame.tiers={self.tiers}: expected strictly increasing, positive tier ends")
        if len(self.tiers) > MAX_TIERS:
            raise ValueError(f"SemanticFrame.tiers: {len(self.tiers)} tiers, expected at most {MAX_TIERS}")
        self.meta.n_tiers = len(self.tiers)

    @property
    def n(self) -> int:
        return int(self.symbols.shape[0])

    def truncate(self, n_keep: int) -> "SemanticFrame":
        """Keep the first ``n_keep`` symbols; ``n_keep`` must be a tier end."""
        if n_keep not in self.tiers:
            raise ValueError(f"truncate(n_keep={n_keep}): expected one of the tier ends {self.tiers}")
        tiers = [t for t in self.tiers if t <= n_keep]
        return SemanticFrame(self.symbols[:n_keep].copy(), tiers, self.meta)


@dataclass
class RxSemanticFrame:
    """RX side of the contract.

    Parameters
    ----------
    symbols: complex64 ``[n]``, equalised; zero where not received.
    mask: bool ``[n]``, True where a symbol was received.
    noise_var: float32 ``[n]``, effective noise variance per symbol after equalisation
        (``inf`` where not received).
    snr_db: estimated SNR of the frame (dB, from the preamble).
    meta: :class:`FrameMeta` as decoded from the header.
    status: :class:`FrameStatus`.
    """

    symbols: np.ndarray
    mask: np.ndarray
    noise_var: np.ndarray
    snr_db: float
    meta: FrameMeta
    status: FrameStatus = FrameStatus.OK
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.symbols = check_complex_1d(self.symbols, "RxSemanticFrame.symbols")
        n = self.symbols.shape[0]
        self.mask = np.asarray(self.mask, dtype=bool)
        self.noise_var = np.asarray(self.noise_var, dtype=np.float32)
        if self.mask.shape != (n,) or self.noise_var.shape != (n,):
            raise ValueError(
                f"RxSemanticFrame: mask {self.mask.shape} and noise_var {self.noise_var.shape} must be ({n},)"
            )
        if type(self.status) is not FrameStatus:
            self.status = FrameStatus(self.status)

    @property
    def n(self) -> int:
        return int(self.symbols.shape[0])

    @classmethod
    def lost(cls, meta: FrameMeta, n: int, status: FrameStatus, snr_db: float = float("nan")) -> "RxSemanticFrame":
        """A frame that carries nothing usable (all masked) with the reason it was lost."""
        return cls(
            symbols=np.zeros(n, np.complex64),
            mask=np.zeros(n, bool),
            noise_var=np.full(n, np.inf, np.float32),
            snr_db=snr_db,
            meta=meta,
            status=status,
        )

    @classmethod
    def from_ideal(cls, frame: SemanticFrame, received: np.ndarray, noise_var: np.ndarray | float, snr_db: float) -> "RxSemanticFrame":
        """Wrap symbols received through a symbol-level channel (twin or simulator) with no PHY."""
        n = frame.n
        nv = np.broadcast_to(np.asarray(noise_var, np.float32), (n,)).copy()
        return cls(received.astype(np.complex64), np.ones(n, bool), nv, snr_db, frame.meta, FrameStatus.OK)
