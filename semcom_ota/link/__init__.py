"""Links carry complex64 samples: in-process simulator, GNU Radio over ZMQ, SoapySDR, SigMF replay.

Backends register in :data:`semcom_ota.link.base.links` when this package is imported:

- ``sim``: :class:`~semcom_ota.link.sim.SimLink` (in-process channel simulator)
- ``gnuradio``: :class:`~semcom_ota.link.gnuradio.GnuRadioLink` (a compiled ``grc/*.grc`` flowgraph in a
  subprocess, samples over ZMQ)
- ``zmq``: :class:`~semcom_ota.link.zmq_link.ZmqLink` (raw ZMQ endpoints: two processes or hosts)
- ``soapy``: :class:`~semcom_ota.link.soapy.SoapyLink` (SoapySDR streaming, device profiles in ``sdr/``)
- ``replay``: :class:`~semcom_ota.link.sigmf_io.ReplayLink` (a SigMF recording fed back to the RX)

:func:`open_link` builds one from keyword configuration; :func:`transmit_frames` carries
:class:`~semcom_ota.frames.SemanticFrame` objects over any of them through the PHY.
"""

from semcom_ota.link.base import Link, LinkStats, links
from semcom_ota.link.errors import LinkError
from semcom_ota.link.factory import open_link
from semcom_ota.link import sim as _sim  # noqa: F401  (registers "sim")
from semcom_ota.link import zmq_link as _zmq  # noqa: F401  (registers "zmq")
from semcom_ota.link import gnuradio as _gnuradio  # noqa: F401  (registers "gnuradio"; GNU Radio runs in a subprocess)
from semcom_ota.link import soapy as _soapy  # noqa: F401  (registers "soapy"; SoapySDR is imported on open)
from semcom_ota.link import sigmf_io as _sigmf  # noqa: F401  (registers "replay")
from semcom_ota.link.transport import TransportResult, nmse_db, random_frames, transmit_frames

__all__ = ["Link", "LinkError", "LinkStats", "links", "open_link", "transmit_frames", "TransportResult", "nmse_db",
           "random_frames"]
