"""LAM text codec ``text-semantic`` (codec_id 6): frozen LAM encoder + trainable SNR-aware JSC.

Importing this package registers the codec in :data:`semcom_ota.semantic.base.codecs`.
"""

from semcom_ota.semantic.text.codec import CODEC_ID, TextSemanticCodec, read_card  # noqa: F401
