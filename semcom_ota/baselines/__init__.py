"""Digital separation baselines: source codec (JPEG/WebP/AVIF, UTF-8/zlib/Brotli) + IEEE 802.11n LDPC +
Gray QAM at the best MCS per SNR. Importing this package registers the ``image-digital`` (codec_id 5)
and ``text-digital`` (codec_id 7) codecs."""

from semcom_ota.baselines import codecs as _codecs  # noqa: F401  (registers the digital codecs)
