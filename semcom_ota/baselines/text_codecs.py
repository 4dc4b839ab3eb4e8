"""Lossless text coders for the digital text baseline: raw UTF-8, zlib (raw DEFLATE) and Brotli.

    data = compress_text("In the beginning...", "brotli")
    decompress_text(data, "brotli")
    data, kept = fit_text(text, max_bytes=40, codec="brotli")    # longest prefix that fits
"""

from __future__ import annotations

import zlib

import brotli

TEXT_CODECS = ("utf8", "zlib", "brotli")
TEXT_CODEC_IDS = {"utf8": 0, "zlib": 1, "brotli": 2}


def check_text_codec(codec: str) -> str:
    if codec not in TEXT_CODECS:
        raise ValueError(f"text codec {codec!r}: expected one of {TEXT_CODECS}")
    return codec


def compress_text(text: str, codec: str = "brotli") -> bytes:
    """UTF-8 text -> bytes (zlib: raw DEFLATE level 9, no zlib header; brotli: quality 11, text mode)."""
    check_text_codec(codec)
    if not isinstance(text, str):
        raise TypeError(f"text: expected str, got {type(text).__name__}")
    raw = text.encode("utf-8")
    if codec == "utf8":
        return raw
    if codec == "zlib":
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(raw) + c.flush()
    return brotli.compress(raw, mode=brotli.MODE_TEXT, quality=11)


def decompress_text(data: bytes, codec: str = "brotli") -> str:
    """Inverse of :func:`compress_text`; raises ValueError on corrupt data."""
    check_text_codec(codec)
    try:
        if codec == "utf8":
            raw = bytes(data)
        elif codec == "zlib":
            raw = zlib.decompress(bytes(data), -15)
        else:
            raw = brotli.decompress(bytes(data))
        return raw.decode("utf-8")
    except (zlib.error, brotli.error, UnicodeDecodeError) as err:
        raise ValueError(f"decompress_text({codec}): corrupt data ({err})") from None


def fit_text(text: str, max_bytes: int, codec: str = "brotli") -> tuple[bytes, int]:
    """Compress the longest prefix of ``text`` (in characters) whose coded size is at most
    ``max_bytes``; returns ``(data, n_chars_kept)`` (``n_chars_kept == len(text)`` when all fits)."""
    if int(max_bytes) < 0:
        raise ValueError(f"max_bytes={max_bytes}: expected >= 0")
    full = compress_text(text, codec)
    if len(full) <= max_bytes:
        return full, len(text)
    a, b = 0, len(text)  # prefix a fits (empty prefix: size of compress(""), may still overflow), b does not
    best = compress_text("", codec)
    if len(best) > max_bytes:
        return b"", 0
    while b - a > 1:
        mid = (a + b) // 2
        d = compress_text(text[:mid], codec)
        if len(d) <= max_bytes:
            a, best = mid, d
        else:
            b = mid
    return best, a
