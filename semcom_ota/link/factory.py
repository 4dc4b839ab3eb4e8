"""``open_link(name, **cfg)``: build a registered link backend from keyword configuration.

Each backend class carries its pydantic config class as ``Config``; the keywords are validated
into it (unknown keys are rejected, errors name the key, the value and what was expected).
``record=PATH`` wraps any link so that everything it receives is also written as a SigMF recording.
"""

from __future__ import annotations

from typing import Any

from semcom_ota.config import validate_config
from semcom_ota.link.base import Link, links


def open_link(name: str, record: str | None = None, record_meta: dict[str, Any] | None = None, **cfg: Any) -> Link:
    """Open link backend ``name`` (``sim``, ``gnuradio``, ``zmq``, ``soapy``, ``replay``).

    Parameters
    ----------
    name: registered backend name.
    record: optional path (without or with ``.sigmf-meta``/``.sigmf-data``) of a SigMF recording of
        the received IQ (and the transmitted IQ as ``<path>-tx``), with capture metadata.
    record_meta: extra SigMF global fields for the recording (e.g. hardware, description).
    cfg: the backend's configuration keys (see its ``Config`` class).
    """
    import semcom_ota.link  # noqa: F401  (registers every backend)

    cls = links.get(name)
    config_cls = getattr(cls, "Config", None)
    if config_cls is None:
        link = cls(**cfg)
    else:
        link = cls(validate_config(config_cls, cfg, f"{name} link config"))
    if record:
        from semcom_ota.link.sigmf_io import RecordingLink

        link = RecordingLink(link, record, extra_global=record_meta)
    return link
