"""The semantic layer: codecs that turn content into importance-ordered symbols and back.

Codecs register by name in :data:`semcom_ota.semantic.base.codecs` and are built from a YAML model
card in ``models/`` (see :func:`semcom_ota.semantic.base.load_codec`).
"""
