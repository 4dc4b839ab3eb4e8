"""Image codecs: ``image-semantic`` (DeepJSCC-style analog JSCC) and ``image-hybrid``
(digital base layer + analog refinement). Importing this package registers both."""

from semcom_ota.semantic.image.codec import ImageSemanticCodec  # noqa: F401
from semcom_ota.semantic.image.hybrid import ImageHybridCodec  # noqa: F401,E402
