"""Streaming OFDM demodulator: complex64 samples in chunks of any size -> :class:`RxSemanticFrame`."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from semcom_ota.frames import FrameMeta, FrameStatus, RxSemanticFrame, check_complex_1d
from semcom_ota.phy.config import PhyConfig
from semcom_ota.phy.equalise import (
    equalise_payload,
    header_llrs,
    ofdm_demodulate,
    pilot_error_ratio,
    track_pilots,
)
from semcom_ota.phy.header import (
    HEADER_VERSION,
    HeaderFields,
    fields_from_word,
    hard_decode,
    header_decode_tables,
    meta_from_word,
    trellis_signs,
    unpack_header,
    viterbi_decode,
)
from semcom_ota.phy.kernels import (
    FRAME_DONE,
    FRAME_NEED_HEADER,
    FRAMES_CROSSINGS,
    FRAME_NOT_CONFIRMED,
    acquire_header_kernel,
    drift_offsets_kernel,
    finish_kernel,
    first_hit_kernel,
    frame_kernel,
    frames_kernel,
    header_decode_kernel,
    live_symbols_kernel,
    pilots_received_kernel,
    sc_peak_kernel,
)
from semcom_ota.phy.layout import HEADER_CODED_BITS, OfdmLayout
from semcom_ota.phy.sync import SyncResult, Synchroniser, coarse_detect, sc_window

log = logging.getLogger(__name__)


def compile_kernels(cfg: PhyConfig | None = None) -> float:
    """Compile (first run after an install or a change) or load from the on-disk cache every
    compiled receiver kernel, by demodulating one short noisy burst (with and without a sampling
    offset); returns the seconds it took. Optional: the kernels otherwise compile on first use."""
    import time

    from semcom_ota.frames import SemanticFrame
    from semcom_ota.phy.modulator import Modulator

    cfg = PhyConfig() if cfg is None else cfg
    t = time.perf_counter()
    rng = np.random.default_rng(0)
    sym = ((rng.standard_normal(600) + 1j * rng.standard_normal(600)) / np.sqrt(2)).astype(np.complex64)
    x = Modulator(cfg).modulate(SemanticFrame(sym, [sym.size], FrameMeta()))
    for drift in (0.0, 3.0):  # a drift of 3 samples over the burst exercises the re-timed windows
        pos = np.arange(x.size) * (1.0 + drift / x.size)
        y = np.interp(pos, np.arange(x.size), x.real) + 1j * np.interp(pos, np.arange(x.size), x.imag)
        y = (y + 0.01 * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))).astype(np.complex64)
        d = Demodulator(cfg)
        d.feed(y)
        d.flush()
    return time.perf_counter() - t


_NOT_TRIED = object()  # Demodulator._candidate: the header was not in the buffer (nothing acquired)


@dataclass
class DemodulatorStats:
    """Counters of a :class:`Demodulator` (cumulative over its life).

    samples: samples fed. candidates: Schmidl–Cox peaks examined. detections: frames confirmed by
    preamble B. frames_ok / truncated / bad_frames: frames emitted with that status. crc_fail:
    header CRC failures; of these, ``crc_fail_weak`` had a weak preamble (B1/B2 correlation below
    ``cfg.crc_fail_min_rho``) and were only counted, the others were emitted as ``CRC_FAIL``.
    lost_no_header: frames detected whose header was cut off at end of stream (no frame emitted:
    without a header nothing is known about them). bad_samples: NaN/inf samples seen (set to 0).
    """

    samples: int = 0
    candidates: int = 0
    detections: int = 0
    frames_ok: int = 0
    truncated: int = 0
    crc_fail: int = 0
    crc_fail_weak: int = 0
    bad_frames: int = 0
    lost_no_header: int = 0
    bad_samples: int = 0


@dataclass
class _Pending:
    sync: SyncResult
    fields: HeaderFields
    n_ofdm: int
    end: int  # absolute index one past the last payload sample


class Demodulator:
    """Find, synchronise and demodulate bursts made by :class:`~semcom_ota.phy.Modulator`.

    ``feed(chunk)`` accepts complex64 ``[k]`` chunks of any size (frames may straddle chunks) and
    returns the frames completed so far; ``flush()`` ends the stream (a frame cut short is returned
    with status ``TRUNCATED``, its missing tail masked). Memory stays bounded by about one maximal
    frame (the header limits the payload to 16383 symbols).

    Emitted frames (:class:`RxSemanticFrame`): ``symbols`` equalised and unbiased, ``noise_var`` per
    symbol (float32, ``inf`` where masked), ``snr_db`` estimated from preamble B in the channel's
    SNR definition, ``meta`` from the header, ``status``:

    - ``OK``; ``TRUNCATED`` (stream ended, the samples fell silent, or a new frame began inside the
      payload: the OFDM symbols not received are masked);
    - ``CRC_FAIL``: header CRC failed — emitted with ``n = 0`` and a default ``FrameMeta`` (so the
      link can count it as lost), never decoded. Only when the preamble was strong (B1/B2
      correlation ≥ ``cfg.crc_fail_min_rho``, i.e. SNR ≳ 2 dB); weaker ones are counted in
      ``stats.crc_fail_weak`` only, since payload data occasionally passes the preamble tests;
    - ``BAD_SAMPLES``: NaN/inf inside the frame — all masked (``n`` from the header, or 0 if the
      header itself was hit).

    ``info`` carries ``t0`` (absolute sample index of preamble A), ``cfo_subcarriers``, ``cfo_hz``,
    ``rho`` (B1/B2 correlation).
    """

    #: receive through the whole-frame kernels (power-of-two FFT sizes): many frames per call
    #: (:func:`~semcom_ota.phy.kernels.frames_kernel`), one candidate per call
    #: (:func:`~semcom_ota.phy.kernels.frame_kernel`), else acquisition + header and payload as one
    #: call each. False: the same stages one call at a time (the path the whole-frame kernels are
    #: tested against, and the one whose stages can be replaced in tests).
    frame_kernels: bool = True
    #: longest payload (OFDM symbols) finished inside the whole-frame kernels: their radix-4 FFT
    #: costs ~0.3 µs more per OFDM symbol than pocketfft's batched one, which the step-by-step
    #: path uses, while fusing saves ~20–30 µs per frame; longer frames take the step-by-step path
    fused_max_ofdm: int = 64

    def __init__(self, cfg: PhyConfig | None = None) -> None:
        cfg = PhyConfig() if cfg is None else cfg
        if not isinstance(cfg, PhyConfig):
            raise TypeError(f"cfg: expected a PhyConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.layout = lay = OfdmLayout(cfg)
        self.synchroniser = Synchroniser(lay)
        self.stats = DemodulatorStats()
        self._half = lay.half
        self._W = sc_window(lay)
        self._lookback = self.synchroniser.margin + 16
        self._hdr_need = lay.payload_start + self.synchroniser.margin  # samples after t0 to read a header
        self._peak_span = 2 * self._W + 16
        self._min_block = 4096
        # inside a payload, data passes the detection threshold by chance every few thousand
        # samples; a frame that cuts another short must stand out more clearly (SNR ≳ 3 dB)
        self._inframe_threshold = max(cfg.detect_threshold, 0.3)
        self._stride = math.gcd(math.gcd(self._W, self._half), 8)
        self._block = 1 << 16
        self._hdr_tables = header_decode_tables()
        self._hdr_pilots = np.ascontiguousarray(lay.pilots_complex(0, lay.n_header_symbols))
        self._compiled = self.frame_kernels and self.synchroniser.fft_tw is not None
        #: arguments of the compiled header decoder inside acquire_header_kernel
        self._hdr_args = (
            lay.header_start, lay.n_header_symbols, lay.sym_len, lay.pilot_idx, self._hdr_pilots, lay.pilot_pos,
            lay.data_idx, lay.data_pos, lay.header_fold, HEADER_CODED_BITS, *self._hdr_tables, trellis_signs(),
        )  # fmt: skip
        self._coded = np.empty(HEADER_CODED_BITS, np.float64)
        #: the layout's arguments of finish_kernel (after the per-frame ones)
        self._finish_args = (
            lay.sym_len, lay.n_fft, self.synchroniser.fft_tw, self.synchroniser.fft_rev, lay.used_idx, lay.pilot_idx,
            lay.pilot_pos, lay.pilot_f, lay.pilot_gaps, lay.pilot, cfg.sro_window, cfg.cpe_window, lay.data_idx,
            lay.data, lay.data_pos,
        )  # fmt: skip
        self._rot = np.empty(0, np.complex64)
        self._guess = self._frame_tables(0, 0)  # payload size the whole-frame kernel expects (0: none yet)
        self._batch = False  # run frames_kernel (frames of the expected size were seen, the last run found some)
        self._total = 0
        self._reset_stream()

    # ---------------------------------------------------------------------------------------------
    def _reset_stream(self) -> None:
        # samples live in a reused store (``_buf`` is a view of its valid part): appending and
        # trimming then touch no fresh memory (page faults on fresh buffers cost ~15 % of RX time)
        self._store = np.zeros(0, np.complex64)
        self._off = 0  # start of _buf in _store
        self._buf = self._store[:0]
        self._work = np.zeros(0, np.complex64)  # FFT windows of the frame being finished
        self._base = self._total
        self._chunks: list[np.ndarray] = []
        self._search = self._total
        self._pending: _Pending | None = None
        self._need = self._total
        self._bad = np.zeros(0, np.int64)
        self._hits: tuple[int, int, np.ndarray, np.ndarray] = (0, 0, np.zeros(0, np.int64), np.zeros(0, np.float32))

    def feed(self, chunk: np.ndarray) -> list[RxSemanticFrame]:
        """Append complex64 samples ``[k]``; return the frames completed (possibly none)."""
        x = check_complex_1d(chunk, "chunk")
        if x.size == 0:
            return []
        # one reduction instead of an elementwise test: NaN/inf make the sum non-finite (a finite
        # overflow only sends us to the exact test)
        if not np.isfinite(np.add.reduce(x.view(np.float32))) and not (finite := np.isfinite(x)).all():
            bad = np.flatnonzero(~finite)
            x = x.copy()
            x[bad] = 0
            self._bad = np.concatenate([self._bad, bad + self._total])
            self.stats.bad_samples += int(bad.size)
        self._chunks.append(x)
        self._total += x.size
        self.stats.samples += x.size
        if self._total < self._need:
            return []
        return self._process(final=False)

    def flush(self) -> list[RxSemanticFrame]:
        """End of stream: emit what is left (a frame cut short -> ``TRUNCATED``) and reset."""
        out = self._process(final=True)
        self._reset_stream()
        return out

    # ---------------------------------------------------------------------------------------------
    def _consolidate(self) -> None:
        if not self._chunks:
            return
        n = self._buf.size
        size = n + sum(c.size for c in self._chunks)
        if self._off + size > self._store.size:
            if size <= self._store.size // 2:  # room at the front: move the samples there
                self._store[:n] = self._buf  # (overlap-safe)
            else:  # grow (amortised doubling)
                store = np.empty(max(2 * self._store.size, size, 1 << 16), np.complex64)
                store[:n] = self._buf
                self._store = store
            self._off = 0
        i = self._off + n
        for c in self._chunks:
            self._store[i : i + c.size] = c
            i += c.size
        self._buf = self._store[self._off : self._off + size]
        self._chunks = []

    def _trim(self) -> None:
        keep = self._search if self._pending is None else self._pending.sync.t0
        keep -= self._lookback
        drop = keep - self._base
        if drop > 0:
            drop = min(drop, self._buf.size)
            self._buf = self._buf[drop:]
            self._off += drop
            self._base += drop
        if self._bad.size:
            self._bad = self._bad[self._bad >= self._base]

    def _has_bad(self, lo: int, hi: int) -> bool:
        if not self._bad.size:
            return False
        i = np.searchsorted(self._bad, lo)
        return bool(i < self._bad.size and self._bad[i] < hi)

    def _first_hit(self, lo: int, hi: int, threshold: float = 0.0) -> int | None:
        """First coarse Schmidl–Cox crossing with start in ``[lo, hi)`` (absolute) whose metric
        also exceeds ``threshold``, or None. Crossings are computed block by block and cached, so
        a region is examined once; the starts tested are the multiples of the stride, whatever
        the block (so every path through the receiver sees the same crossings)."""
        half, W = self._half, self._W
        while lo < hi:
            c_lo, c_hi, hits, vals = self._hits
            if not (c_lo <= lo < c_hi):
                e = min(hi, lo + self._block)
                g = -(-lo // self._stride) * self._stride  # the grid: multiples of the stride
                seg = self._buf[g - self._base : e - self._base + half + W - 1]
                hits, vals = coarse_detect(seg, half, W, self._stride, self.cfg.detect_threshold)
                hits = hits + g
                self._hits = (lo, e, hits, vals)
                c_lo, c_hi = lo, e
            lim = min(hi, c_hi)
            k = first_hit_kernel(hits, vals, lo, lim, threshold)
            if k >= 0:
                return int(hits[k])
            lo = lim
        return None

    def _peak(self, d1: int) -> tuple[int, complex]:
        """Arg-max of the Schmidl–Cox metric in ``[d1, d1 + peak_span)``."""
        half, W = self._half, self._W
        hi = min(d1 + self._peak_span, self._total - half - W + 1)
        seg = self._buf[d1 - self._base : hi - self._base + half + W - 1]
        # the metric falls off linearly either side of A's start: smoothed before the arg-max
        # (noise); one compiled pass (running sums as in schmidl_cox, np.convolve's "same" window)
        i, P = sc_peak_kernel(seg, half, W, self._stride + 1)
        return d1 + int(i), complex(P)

    def _next_hit(self, final: bool) -> int | None:
        """Start of the window in which to look for the next Schmidl–Cox peak (a coarse crossing
        minus a stride), or None (more samples needed or none left)."""
        half, W = self._half, self._W
        last = self._total - half - W  # last start with a full metric window
        start = max(self._search, self._base)
        if not final and self._total - start < self._min_block + half + W:
            self._need = start + self._min_block + half + W
            return None
        hit = self._first_hit(start, last + 1) if last >= start else None
        if hit is None:
            self._search = max(start, last + 1)
            self._need = self._search + self._min_block + half + W
            return None
        d1 = max(hit - self._stride, self._base)
        if d1 + self._peak_span > last + 1 and not final:
            self._search = d1
            self._need = d1 + self._peak_span + half + W
            return None
        self.stats.candidates += 1
        return d1

    # ---------------------------------------------------------------------------------------------
    def _process(self, final: bool) -> list[RxSemanticFrame]:
        self._consolidate()
        out: list[RxSemanticFrame] = []
        lay = self.layout
        while True:
            if self._pending is not None:
                fr = self._pending
                need = fr.end + self._hdr_need
                if self._total < need and not final:
                    self._need = need
                    break
                self._pending = None
                out.append(self._finish(fr, final))
                continue
            if self._batch and not final:
                out += self._run_frames()
            d1 = self._next_hit(final)
            if d1 is None:
                break
            t0, P, res, fields, done = self._candidate(d1)
            if done is not None:
                out.append(done)
                continue
            if res is _NOT_TRIED:
                if not final:
                    self._search = max(self._search, t0 - self._peak_span)
                    self._need = t0 + self._hdr_need
                    break
                if t0 + lay.header_start + self.synchroniser.margin <= self._total:
                    if self.synchroniser.synchronise(self._buf, self._base, t0, P) is not None:
                        self.stats.detections += 1
                        self.stats.lost_no_header += 1
                self._search = self._total
                break
            if res is None:
                self._search = t0 + self._half
                continue
            self.stats.detections += 1
            hdr_end = res.t0 + lay.payload_start
            if self._has_bad(res.t0, hdr_end):
                self.stats.bad_frames += 1
                out.append(RxSemanticFrame.lost(FrameMeta(), 0, FrameStatus.BAD_SAMPLES, res.snr_db))
                self._search = hdr_end
                continue
            if fields is None:
                self.stats.crc_fail += 1
                if res.rho >= self.cfg.crc_fail_min_rho:
                    f = RxSemanticFrame.lost(FrameMeta(), 0, FrameStatus.CRC_FAIL, res.snr_db)
                    f.info.update(self._info(res))
                    out.append(f)
                else:  # a weak detection (maybe data that resembled a preamble): counted only
                    self.stats.crc_fail_weak += 1
                self._search = hdr_end
                continue
            n_ofdm = lay.n_payload_symbols(fields.length)
            self._pending = _Pending(res, fields, n_ofdm, hdr_end + n_ofdm * lay.sym_len)
            self._search = hdr_end
        self._trim()
        return out

    def _info(self, res: SyncResult) -> dict:
        return {
            "t0": int(res.t0),
            "cfo_subcarriers": float(res.cfo),
            "cfo_hz": float(res.cfo * self.cfg.sample_rate_hz / self.cfg.n_fft),
            "rho": float(res.rho),
        }

    def _candidate(self, d1: int) -> tuple[int, complex, SyncResult | None, HeaderFields | None, RxSemanticFrame | None]:
        """Peak search from ``d1``, acquisition and header of one candidate: ``(t0, P, res,
        fields, frame)``. ``res`` is ``_NOT_TRIED`` when the header is not in the buffer yet,
        None when no frame was confirmed. ``frame`` is the finished frame when the whole-frame
        kernel (:func:`~semcom_ota.phy.kernels.frame_kernel`) could take it to the end (its
        payload in the buffer, nothing unusual), else None and the caller goes on."""
        if not self._compiled:
            t0, P = self._peak(d1)
            if t0 + self._hdr_need > self._total:
                return t0, P, _NOT_TRIED, None, None
            res, fields = self._acquire(t0, P)
            return t0, P, res, fields, None
        lay = self.layout
        n, n_ofdm, slot, pil = self._guess
        nh = lay.n_header_symbols
        count = nh + n_ofdm
        self._reserve(count)
        nu = lay.n_used
        h = np.empty(nu, np.complex128)
        err = np.empty(nu, np.float64)
        symbols = np.empty(n, np.complex64)
        noise_var = np.empty(n, np.float32)
        mask = np.empty(n, np.bool_)
        base = self._base
        half, W = self._half, self._W
        c_lo, c_hi, hits, vals = self._hits
        outcome, t0, P, t1, cfo, rho, nv, e, status, word, n_rx, inflation = frame_kernel(
            self._buf, base, d1 - base, min(d1 + self._peak_span, self._total - half - W + 1) - base,
            self._total - base, self._hdr_need, half, W, self._stride + 1, hits, vals, c_lo, c_hi,
            self._inframe_threshold, self._bad.size > 0, HEADER_VERSION, n, n_ofdm, slot, pil, lay.payload_start,
            h, err, self._coded, self._work, self._rot, symbols, noise_var, mask, self.synchroniser.acquire_args,
            self._hdr_args, self._finish_args,
        )  # fmt: skip
        t0 += base
        if outcome == FRAME_NEED_HEADER:
            return t0, P, _NOT_TRIED, None, None
        if outcome == FRAME_NOT_CONFIRMED:
            return t0, P, None, None, None
        res = self.synchroniser.result(int(t1) + base, t0, cfo, h, err, nv, e, rho)
        fields = self._header_fields(status, word, self._coded)
        if outcome != FRAME_DONE:
            return t0, P, res, fields, None
        # finished here: the bookkeeping of _process + _finish for a frame received whole
        self.stats.detections += 1
        pay_start = res.t0 + lay.payload_start
        end = pay_start + n_ofdm * lay.sym_len
        self._search = max(self._search, end if n_rx == n_ofdm else pay_start + n_rx * lay.sym_len)
        return t0, P, res, fields, self._emit(res, fields, n_rx, n_ofdm, inflation, symbols, noise_var, mask)

    def _reserve(self, count: int) -> None:
        """Grow the reused workspaces (FFT windows ``_work``, CFO phasors ``_rot``) to hold
        ``count`` OFDM symbols (amortised doubling)."""
        N = self.layout.n_fft
        if self._work.size < count * N:
            self._work = np.empty(max(count * N, 2 * self._work.size), np.complex64)
        if self._rot.size < count:
            self._rot = np.empty(max(count, 2 * self._rot.size), np.complex64)

    def _run_frames(self) -> list[RxSemanticFrame]:
        """Receive the frames ahead that :func:`~semcom_ota.phy.kernels.frames_kernel` can take
        whole (the expected size, nothing unusual), many per call; stops before the first it
        cannot (the step-by-step loop of :meth:`_process` takes that one)."""
        lay, cfg = self.layout, self.cfg
        n, n_ofdm, slot, pil = self._guess
        base = self._base
        count = lay.n_header_symbols + n_ofdm
        self._reserve(count)
        span = lay.payload_start + n_ofdm * lay.sym_len  # samples per frame, at least
        m = min((self._total - max(self._search, base)) // span + 1, 1024)
        symbols = np.empty((m, n), np.complex64)
        noise_var = np.empty((m, n), np.float32)
        mask = np.empty((m, n), np.bool_)
        rec_i = np.empty((m, 4), np.int64)
        rec_f = np.empty((m, 5), np.float64)
        st = self.stats
        done = 0
        last = self._total - self._half - self._W  # last start with a full metric window
        while True:
            c_lo, c_hi, hits, vals = self._hits
            k, search, candidates, stop = frames_kernel(
                self._buf, base, self._total - base, self._search - base, self._min_block, self._stride,
                self._peak_span, self._hdr_need, self._half, self._W, hits, vals, c_lo, c_hi, self._inframe_threshold,
                self._bad.size > 0, HEADER_VERSION, n, n_ofdm, slot, pil, lay.payload_start, lay.n_used, self._work,
                self._rot, symbols[done:], noise_var[done:], mask[done:], rec_i[done:], rec_f[done:], self._coded,
                self.synchroniser.acquire_args, self._hdr_args, self._finish_args,
            )  # fmt: skip
            self._search = max(self._search, search + base)
            st.candidates += candidates
            done += k
            if stop != FRAMES_CROSSINGS:  # full, out of samples, or a candidate for the step path
                break
            # the crossings of the next block (as _first_hit would compute them), then go on
            start = max(self._search, base)
            if start > last or self._first_hit(start, last + 1) is None:
                break
        st.detections += done
        if not done:
            self._batch = False
            return []
        out = []
        hz = cfg.sample_rate_hz / lay.n_fft
        for k, ((_, t1, word, n_rx), (cfo, rho, _, snr_db, inflation)) in enumerate(zip(rec_i[:done].tolist(), rec_f[:done].tolist())):
            if n_rx == n_ofdm:
                status = FrameStatus.OK
                st.frames_ok += 1
            else:
                status = FrameStatus.TRUNCATED
                st.truncated += 1
            info = {"t0": t1 + base, "cfo_subcarriers": cfo, "cfo_hz": cfo * hz, "rho": rho, "ofdm_symbols_received": n_rx, "noise_var_inflation": inflation}  # fmt: skip
            out.append(RxSemanticFrame(symbols[k], mask[k], noise_var[k], snr_db, meta_from_word(word), status, info))
        return out

    def _emit(
        self, sync: SyncResult, fields: HeaderFields, n_rx: int, n_ofdm: int, inflation: float, symbols: np.ndarray,
        noise_var: np.ndarray, mask: np.ndarray,
    ) -> RxSemanticFrame:  # fmt: skip
        """The frame of a finished payload (``n_rx`` of ``n_ofdm`` OFDM symbols received), counted."""
        if n_rx == n_ofdm:
            status = FrameStatus.OK
            self.stats.frames_ok += 1
        else:
            status = FrameStatus.TRUNCATED
            self.stats.truncated += 1
        if fields.length != self._guess[0]:  # the next frame probably has this size too
            self._guess = self._frame_tables(fields.length, n_ofdm)
        else:  # two frames of one size in a row: worth trying many per call again
            self._batch = self._compiled
        f = RxSemanticFrame(symbols, mask, noise_var, sync.snr_db, fields.meta(), status, self._info(sync))
        f.info["ofdm_symbols_received"] = n_rx
        f.info["noise_var_inflation"] = inflation
        return f

    def _frame_tables(self, n: int, n_ofdm: int) -> tuple[int, int, np.ndarray, np.ndarray]:
        """``(n, n_ofdm, slot, pilots)`` of a frame of ``n`` symbols: the de-permutation table and
        the pilot values from header symbol 0 (the whole-frame kernel's per-size tables); ``n = 0``
        (none) for frames longer than :attr:`fused_max_ofdm`."""
        lay = self.layout
        if n < 1 or n_ofdm > self.fused_max_ofdm:  # no size for the whole-frame kernels to expect
            return 0, 0, np.zeros(0, np.int64), np.zeros((0, lay.n_pilot), np.complex128)
        return n, n_ofdm, lay.payload_slot(n_ofdm, n), lay.pilots_complex(0, lay.n_header_symbols + n_ofdm)

    def _acquire(self, t0: int, P: complex) -> tuple[SyncResult | None, HeaderFields | None]:
        """Acquire the frame whose coarse start is ``t0`` (absolute) and decode its header:
        ``(None, None)`` when the preambles do not confirm a frame, ``(res, None)`` when its header
        fails. One compiled call (:func:`~semcom_ota.phy.kernels.acquire_header_kernel`) for
        power-of-two FFT sizes, else :meth:`Synchroniser.synchronise` and :meth:`_decode_header`."""
        syn = self.synchroniser
        if not self._compiled:
            res = syn.synchronise(self._buf, self._base, t0, P)
            return res, (None if res is None else self._decode_header(res))
        nu = self.layout.n_used
        h = np.empty(nu, np.complex128)
        err = np.empty(nu, np.float64)
        P = complex(P)
        ok, t1, cfo, rho, nv, e, status, word = acquire_header_kernel(
            self._buf, t0 - self._base, P.real, P.imag, *syn.acquire_args, *self._hdr_args, h, err, self._coded
        )
        if not ok:
            return None, None
        res = syn.result(int(t1) + self._base, t0, cfo, h, err, nv, e, rho)
        return res, self._header_fields(status, word, self._coded)

    @staticmethod
    def _header_fields(status: int, word: int, coded: np.ndarray) -> HeaderFields | None:
        """Header fields from the compiled decoder's ``(status, word, coded)`` (status 0 / 3: CRC
        passed after hard / soft decoding; 1 / 4: failed; 2: the hard decisions were not a
        codeword, so the Viterbi decoder runs here on the combined LLRs ``coded``); ``None`` if the
        CRC fails or the fields are not a valid header."""
        if status == 0 or status == 3:
            f = fields_from_word(int(word))
        elif status == 1 or status == 4:
            f = None
        else:  # channel errors: soft decoding
            f = unpack_header(viterbi_decode(coded))
        if f is None or f.version != HEADER_VERSION or f.length < 1 or f.n_tiers < 1:
            return None
        return f

    def _decode_header(self, res: SyncResult) -> HeaderFields | None:
        lay = self.layout
        syn = self.synchroniser
        if syn.fft_tw is not None:  # compiled: LLRs, soft combination, hard decoding and CRC in one call
            start = res.t0 + lay.header_start + lay.cp_len
            dec_m, crc_m, crc_zero = self._hdr_tables
            status, word, coded = header_decode_kernel(
                self._buf, start - self._base, lay.n_header_symbols, lay.sym_len, 2.0 * np.pi * res.cfo / lay.n_fft,
                float(start - res.phase_ref), syn.fft_tw, syn.fft_rev, lay.pilot_idx, self._hdr_pilots, res.h,
                res.h_err_var, lay.pilot_pos, lay.data_idx, lay.data_pos, float(res.noise_var), lay.header_fold,
                HEADER_CODED_BITS, dec_m, crc_m, crc_zero,
            )  # fmt: skip
            return self._header_fields(status, word, coded)
        else:
            llr = header_llrs(self._buf, self._base, lay, res)
            coded = np.bincount(lay.header_fold, weights=llr.reshape(-1), minlength=HEADER_CODED_BITS)
            bits = hard_decode(coded)
            if bits is None:
                bits = viterbi_decode(coded)
            f = unpack_header(bits)
        if f is None or f.version != HEADER_VERSION or f.length < 1 or f.n_tiers < 1:
            return None
        return f

    def _finish(self, fr: _Pending, final: bool) -> RxSemanticFrame:
        lay, sync = self.layout, fr.sync
        L, nh = lay.sym_len, lay.n_header_symbols
        n = fr.fields.length
        pay_start = sync.t0 + lay.payload_start
        cut = min(self._total, fr.end)
        next_search = fr.end
        # a new frame starting inside this payload cuts it short
        scan_hi = min(fr.end, self._total - self._hdr_need)
        lo = pay_start
        while lo < scan_hi:
            hit = self._first_hit(lo, scan_hi, self._inframe_threshold)
            if hit is None:
                break
            t1, P1 = self._peak(max(hit - self._stride, self._base))
            res1, fields1 = self._acquire(t1, P1)
            # payload data can look like a preamble by chance (its CPs correlate at lag n_fft):
            # only a header that passes its CRC cuts the current frame short
            if res1 is not None and fields1 is not None:
                cut = min(cut, t1)
                next_search = max(pay_start, t1 - self._peak_span)
                break
            lo = t1 + self._half
        n_av = min(max((cut - pay_start) // L, 0), fr.n_ofdm)
        if self._has_bad(sync.t0, pay_start + n_av * L):
            self.stats.bad_frames += 1
            self._search = max(self._search, next_search if n_av == fr.n_ofdm else pay_start + n_av * L)
            f = RxSemanticFrame.lost(fr.fields.meta(), n, FrameStatus.BAD_SAMPLES, sync.snr_db)
            f.info.update(self._info(sync))
            return f
        self._reserve(nh + n_av)
        if self._compiled and fr.n_ofdm <= self.fused_max_ofdm:
            return self._finish_compiled(fr, n_av, next_search)
        F, rot = ofdm_demodulate(self._buf, self._base, lay, sync, 0, nh + n_av, out=self._work)
        # the samples fell silent (burst cut in the channel): drop the silent tail
        n_rx = n_av
        if n_av:
            thr = sync.noise_var + 0.2 * float(np.vdot(sync.h, sync.h).real) / lay.n_used
            n_rx = live_symbols_kernel(F, nh, n_av, lay.used_idx, thr)
        if n_rx < fr.n_ofdm and next_search == fr.end:
            next_search = pay_start + n_rx * L
        self._search = max(self._search, next_search)
        S = nh + n_rx
        Yp = pilots_received_kernel(F, rot, lay.pilot_idx, S)
        phi, theta, pv = track_pilots(Yp, lay, sync, 0)
        # sampling-rate offset: once the windows have drifted a sample or more, move each
        # window by the rounded drift and track the rest (keeps the windows inside the CP)
        offsets, moved = drift_offsets_kernel(np.ascontiguousarray(theta, np.float64), lay.n_fft)  # rint(timing_drift)
        if moved:
            F, rot = ofdm_demodulate(self._buf, self._base, lay, sync, 0, S, offsets, out=self._work)
            Yp = pilots_received_kernel(F, rot, lay.pilot_idx, S)
            phi, theta, pv = track_pilots(Yp, lay, sync, 0, offsets)
        inflation = pilot_error_ratio(Yp, lay, sync, phi, theta, pv)[nh:]
        symbols, noise_var, mask = equalise_payload(F, rot, lay, sync, nh, phi[nh:], theta[nh:], pv[nh:], inflation, fr.n_ofdm, n)
        meta = fr.fields.meta()
        status = FrameStatus.OK if n_rx == fr.n_ofdm else FrameStatus.TRUNCATED
        if status is FrameStatus.OK:
            self.stats.frames_ok += 1
        else:
            self.stats.truncated += 1
        f = RxSemanticFrame(symbols, mask, noise_var, sync.snr_db, meta, status)
        f.info.update(self._info(sync))
        f.info["ofdm_symbols_received"] = n_rx
        f.info["noise_var_inflation"] = float(np.add.reduce(inflation)) / inflation.size if inflation.size else 1.0
        return f

    def _finish_compiled(self, fr: _Pending, n_av: int, next_search: int) -> RxSemanticFrame:
        """:meth:`_finish` after the cut-short scan, as one compiled call
        (:func:`~semcom_ota.phy.kernels.finish_kernel`): ``n_av`` payload symbols available."""
        lay, sync = self.layout, fr.sync
        N, nh = lay.n_fft, lay.n_header_symbols
        n = fr.fields.length
        count = nh + n_av
        symbols = np.empty(n, np.complex64)
        noise_var = np.empty(n, np.float32)
        mask = np.empty(n, np.bool_)
        start = sync.t0 + lay.header_start + lay.cp_len
        w = 2.0 * np.pi * sync.cfo / N
        n_rx, inflation = finish_kernel(
            self._buf, start - self._base, nh, n_av, w, w * (start - sync.phase_ref),
            lay.pilots_complex(0, nh + fr.n_ofdm), sync.h, sync.h_err_var, sync.noise_var,
            lay.payload_slot(fr.n_ofdm, n), n, self._work[: count * N].reshape(count, N), self._rot, symbols,
            noise_var, mask, *self._finish_args,
        )  # fmt: skip
        L = lay.sym_len
        pay_start = sync.t0 + lay.payload_start
        if n_rx < fr.n_ofdm and next_search == fr.end:
            next_search = pay_start + n_rx * L
        self._search = max(self._search, next_search)
        return self._emit(sync, fr.fields, n_rx, fr.n_ofdm, inflation, symbols, noise_var, mask)
