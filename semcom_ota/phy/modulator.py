"""OFDM modulator: :class:`SemanticFrame` -> complex64 burst (DESIGN §3)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from semcom_ota.frames import SemanticFrame
from semcom_ota.phy.config import PhyConfig
from semcom_ota.phy.header import conv_encode, pack_header
from semcom_ota.phy.layout import HEADER_CODED_BITS, MAX_PAYLOAD_SYMBOLS, OfdmLayout

log = logging.getLogger(__name__)


@dataclass
class ModulatorStats:
    """Counters: frames modulated, samples out, samples clipped at full scale (|x| > 1)."""

    frames: int = 0
    samples: int = 0
    clipped_samples: int = 0


def header_grid(layout: OfdmLayout, bits56: np.ndarray) -> np.ndarray:
    """BPSK header symbols on the used bins: complex64 ``[n_header_symbols, n_used]``."""
    coded = conv_encode(bits56)
    assert coded.size == HEADER_CODED_BITS
    n_slots = layout.n_header_symbols * layout.n_data
    rep = np.resize(coded, n_slots)  # cyclic repetition fills the last symbol
    slots = np.empty(n_slots, np.uint8)
    slots[layout.header_interleave] = rep
    grid = np.empty((layout.n_header_symbols, layout.n_used), np.complex64)
    grid[:, layout.data_pos] = (1.0 - 2.0 * slots.reshape(layout.n_header_symbols, layout.n_data)).astype(np.float32)
    grid[:, layout.pilot_pos] = layout.pilots(0, layout.n_header_symbols)
    return grid


class Modulator:
    """Frame :class:`SemanticFrame` symbols into one burst of complex64 baseband samples.

    Burst: ``guard | A | B | B | header | payload | guard``. Payload symbols fill OFDM symbols in
    time order (the least important tail is last), permuted within blocks of
    ``cfg.perm_block_symbols`` OFDM symbols; the last OFDM symbol is padded with seeded QPSK.

    Parameters
    ----------
    cfg: :class:`PhyConfig` (the demodulator must use an equal one).

    Example
    -------
    >>> from semcom_ota.frames import SemanticFrame
    >>> mod = Modulator(PhyConfig())
    >>> burst = mod.modulate(SemanticFrame(np.ones(100, np.complex64), [100]))
    >>> burst.dtype, burst.size == mod.layout.burst_len(100)
    (dtype('complex64'), True)
    """

    def __init__(self, cfg: PhyConfig | None = None) -> None:
        cfg = PhyConfig() if cfg is None else cfg
        if not isinstance(cfg, PhyConfig):
            raise TypeError(f"cfg: expected a PhyConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.layout = OfdmLayout(cfg)
        self.stats = ModulatorStats()
        self._preamble = np.concatenate([self.layout.a_time, self.layout.b_block])

    def modulate(self, frame: SemanticFrame) -> np.ndarray:
        """Return the burst for ``frame``: complex64 ``[layout.burst_len(frame.n)]``, RMS ``backoff_rms``
        over the non-guard samples (before clipping at |x| = 1)."""
        if not isinstance(frame, SemanticFrame):
            raise TypeError(f"frame: expected a SemanticFrame, got {type(frame).__name__}")
        lay = self.layout
        n = frame.n
        if not 1 <= n <= MAX_PAYLOAD_SYMBOLS:
            raise ValueError(f"frame.n={n}: the header carries 1..{MAX_PAYLOAD_SYMBOLS} payload symbols")
        sym = frame.symbols
        if not np.all(np.isfinite(sym)):
            raise ValueError("frame.symbols: expected finite values, got NaN/inf")
        n_ofdm = lay.n_payload_symbols(n)
        seq = np.concatenate([sym, lay.filler(n_ofdm * lay.n_data - n)])
        data = np.empty(n_ofdm * lay.n_data, np.complex64)
        data[lay.payload_index(n_ofdm)] = seq
        grid = np.empty((lay.n_header_symbols + n_ofdm, lay.n_used), np.complex64)
        grid[: lay.n_header_symbols] = header_grid(lay, pack_header(frame.meta, n))
        pay = grid[lay.n_header_symbols :]
        pay[:, lay.data_pos] = data.reshape(n_ofdm, lay.n_data)
        pay[:, lay.pilot_pos] = lay.pilots(lay.n_header_symbols, n_ofdm)
        body = lay.to_time(grid)
        g = np.zeros(self.cfg.guard_len, np.complex64)
        burst = np.concatenate([g, self._preamble, body, g])
        mag2 = burst.real * burst.real + burst.imag * burst.imag
        over = mag2 > 1.0
        n_clip = int(np.count_nonzero(over))
        if n_clip:
            burst[over] /= np.sqrt(mag2[over])
            log.debug("modulate: clipped %d samples at full scale", n_clip)
        self.stats.frames += 1
        self.stats.samples += burst.size
        self.stats.clipped_samples += n_clip
        return burst
