"""OFDM PHY (DESIGN §3): :class:`Modulator` frames a :class:`~semcom_ota.frames.SemanticFrame` into a
complex64 burst, :class:`Demodulator` turns a sample stream back into
:class:`~semcom_ota.frames.RxSemanticFrame` objects.

    from semcom_ota.phy import PhyConfig, Modulator, Demodulator
    burst = Modulator(PhyConfig()).modulate(frame)       # complex64 samples
    demod = Demodulator(PhyConfig())
    frames = demod.feed(samples) + demod.flush()         # list[RxSemanticFrame]

Modules: ``config`` (PhyConfig), ``layout`` (bins, preambles, pilots, permutation), ``header``
(bits, CRC-16, convolutional code, Viterbi), ``modulator``, ``sync`` (detection, CFO, timing,
channel/noise/SNR), ``equalise`` (FFT, pilot tracking, MMSE), ``demodulator`` (streaming),
``bench`` (throughput beside GNU Radio).
"""

from semcom_ota.phy.config import PhyConfig
from semcom_ota.phy.demodulator import Demodulator, DemodulatorStats
from semcom_ota.phy.layout import MAX_PAYLOAD_SYMBOLS, OfdmLayout
from semcom_ota.phy.modulator import Modulator, ModulatorStats

__all__ = [
    "PhyConfig",
    "Modulator",
    "ModulatorStats",
    "Demodulator",
    "DemodulatorStats",
    "OfdmLayout",
    "MAX_PAYLOAD_SYMBOLS",
]
