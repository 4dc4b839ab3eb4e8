"""Configuration of the OFDM PHY (DESIGN §3): one typed object shared by modulator and demodulator."""

from __future__ import annotations

from pydantic import Field, model_validator

from semcom_ota.config import StrictModel


class PhyConfig(StrictModel):
    """CP-OFDM waveform and receiver settings. TX and RX must use equal configs.

    Defaults: 64-point FFT, CP 16, used bins ±2..±27 (52 bins: DC and its neighbours ±1 nulled,
    band edges nulled), pilots at ±8 and ±22 (4), hence 48 data bins.

    Parameters
    ----------
    n_fft: FFT size (even, 16..1024).
    cp_len: cyclic prefix (samples), 1..n_fft/2.
    n_used_half: used bins on each side of DC.
    dc_null_half: bins ±1..±dc_null_half are nulled besides DC (0 = only DC nulled).
    pilot_bins: signed pilot bin indices (must be used bins; at least 2).
    guard_len: zeros before and after each burst (samples, ≥ 80).
    backoff_rms: RMS of the burst relative to full scale 1.0 (samples beyond |x| = 1 are clipped
        and counted).
    sample_rate_hz: informational (CFO in Hz in the receiver's reports).
    perm_block_symbols: payload symbols are permuted (seeded) within blocks of this many OFDM
        symbols for frequency diversity; time order across blocks is kept.
    seed: seed of the permutation, preamble A, pilot polarity and padding (TX and RX must agree).
    zc_root: Zadoff–Chu root of preamble B (length: the smallest prime ≥ number of used bins).
    detect_threshold: Schmidl–Cox metric threshold (|P|²/(R1·R2), 0..1).
    verify_threshold: minimum B1/B2 correlation coefficient for a detection to be accepted.
    crc_fail_min_rho: a header CRC failure is emitted as a ``CRC_FAIL`` frame only if the B1/B2
        correlation reached this (else only counted): chance detections in data are weak.
    max_cfo_subcarriers: largest |CFO| searched, in subcarrier spacings.
    timing_backoff: FFT windows start this many samples inside the cyclic prefix.
    tap_threshold: a channel tap is kept if its power exceeds this many times its estimation noise.
    cpe_window: OFDM symbols averaged (centred) for the common phase estimate from pilots.
    sro_window: OFDM symbols averaged (centred) for the phase slope (sampling offset) estimate.
    """

    n_fft: int = Field(64, ge=16, le=1024)
    cp_len: int = Field(16, ge=1)
    n_used_half: int = Field(26, ge=2)
    dc_null_half: int = Field(1, ge=0)
    pilot_bins: tuple[int, ...] = (-22, -8, 8, 22)
    guard_len: int = Field(80, ge=80, le=1_000_000)
    backoff_rms: float = Field(0.25, gt=0.0, le=1.0)
    sample_rate_hz: float = Field(1e6, gt=0.0)
    perm_block_symbols: int = Field(4, ge=1, le=1024)
    seed: int = Field(0, ge=0)
    zc_root: int = Field(25, ge=1)
    detect_threshold: float = Field(0.15, gt=0.0, lt=1.0)
    verify_threshold: float = Field(0.3, gt=0.0, lt=1.0)
    crc_fail_min_rho: float = Field(0.6, ge=0.0, le=1.0)
    max_cfo_subcarriers: float = Field(8.0, ge=0.0)
    timing_backoff: int = Field(3, ge=0)
    tap_threshold: float = Field(6.0, gt=0.0)
    cpe_window: int = Field(5, ge=1)
    sro_window: int = Field(16, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> "PhyConfig":
        n = self.n_fft
        if n % 2:
            raise ValueError(f"n_fft={n}: expected an even FFT size (preamble A repeats with period n_fft/2)")
        if self.cp_len > n // 2:
            raise ValueError(f"cp_len={self.cp_len}: expected at most n_fft/2={n // 2}")
        top = self.dc_null_half + self.n_used_half
        if top > n // 2 - 1:
            raise ValueError(
                f"dc_null_half + n_used_half = {top}: expected at most n_fft/2 - 1 = {n // 2 - 1} (bins must fit the FFT)"
            )
        used = set(range(self.dc_null_half + 1, top + 1)) | set(range(-top, -self.dc_null_half))
        if len(self.pilot_bins) < 2 or len(set(self.pilot_bins)) != len(self.pilot_bins):
            raise ValueError(f"pilot_bins={self.pilot_bins}: expected at least 2 distinct bins")
        bad = [p for p in self.pilot_bins if p not in used]
        if bad:
            raise ValueError(f"pilot_bins={self.pilot_bins}: {bad} are not used bins (±{self.dc_null_half + 1}..±{top})")
        if len(self.pilot_bins) >= 2 * self.n_used_half:
            raise ValueError(f"pilot_bins={self.pilot_bins}: no data bins would be left")
        if self.timing_backoff >= self.cp_len:
            raise ValueError(f"timing_backoff={self.timing_backoff}: expected less than cp_len={self.cp_len}")
        return self
