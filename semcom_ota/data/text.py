"""Sentence splitting and cleaning shared by the text corpora.

Cleaning normalises whitespace and typographic quotes/dashes to ASCII, drops markup remnants and
keeps sentences of ``MIN_WORDS``..``MAX_WORDS`` words that have no digits-only token (verse numbers,
list indices, dates) and at least one letter per word on average.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MIN_WORDS = 4
MAX_WORDS = 30

_TRANSLATE = str.maketrans({
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'", "`": "'",
    "\u2014": " - ", "\u2013": "-", "\u2012": "-", "\u2010": "-", "\u00a0": " ", "\u2026": "...",
    "\u00ad": None, "\u200b": None, "\ufeff": None,
})
_WS = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?)\]])")
_ABBREV = {
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "vs", "etc", "e.g", "i.e", "cf", "no", "vol",
    "mt", "gen", "col", "capt", "lt", "sgt", "rev", "inc", "ltd", "co", "u.s", "a.m", "p.m",
}
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace and
# an opening quote, bracket or capital letter.
_BOUNDARY = re.compile(r"""(?<=[.!?])(["')\]]*)\s+(?=["'(\[]*[A-Z0-9])""")
_MARKUP = re.compile(r"<[^<>]*>|[*=#_~^]{2,}")  # tags, <e-mail addresses>, <stage business>, *** rules
_DIGITS_ONLY = re.compile(r"^[\W_]*\d[\d,.:;/-]*[\W_]*$")


def normalise(text: str) -> str:
    """ASCII quotes and dashes, NFC, single spaces, no space before closing punctuation."""
    text = unicodedata.normalize("NFC", text).translate(_TRANSLATE)
    text = _WS.sub(" ", text).strip()
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


def split_sentences(text: str) -> list[str]:
    """Split normalised running text into sentences (rule-based; knows common abbreviations)."""
    text = normalise(text)
    if not text:
        return []
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.start(1) + len(m.group(1))
        head = text[start:end]
        last = head.rstrip("\"')]").rsplit(" ", 1)[-1].rstrip(".!?").lower()
        if head.rstrip("\"')]").endswith(".") and (last in _ABBREV or (len(last) == 1 and last.isalpha())):
            continue  # "Mr. Smith", "J. R. R."
        out.append(head.strip())
        start = m.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


def _balance_quotes(s: str) -> str:
    for q in ('"',):
        if s.count(q) % 2:
            if s.startswith(q):
                s = s[1:]
            elif s.endswith(q):
                s = s[:-1]
            else:
                s = s.replace(q, "")
    for o, c in (("(", ")"), ("[", "]")):
        if s.count(o) != s.count(c):
            s = s.replace(o, "").replace(c, "")
    return _SPACE_BEFORE_PUNCT.sub(r"\1", _WS.sub(" ", s)).strip()


def clean_sentence(s: str, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> str | None:
    """A cleaned sentence, or None when it fails the filters (word count, digits-only tokens, letters)."""
    s = _balance_quotes(_MARKUP.sub(" ", normalise(s))).lstrip("-:;,. ").strip()
    if not s or "<" in s or ">" in s:
        return None
    words = s.split(" ")
    if not (min_words <= len(words) <= max_words):
        return None
    if any(_DIGITS_ONLY.match(w) for w in words):
        return None
    letters = sum(ch.isalpha() for ch in s)
    if letters < 0.6 * len(s.replace(" ", "")) or not any(ch.isalpha() for ch in words[0]):
        return None
    if not s[0].isupper() and s[0] not in "\"'(":
        return None
    return s


_CLAUSE = re.compile(r"(?<=[;:])\s+")


def split_clauses(sentence: str) -> list[str]:
    """Split an over-long sentence at ``;``/``:`` into clause sentences (capitalised, full stop)."""
    out = []
    for part in _CLAUSE.split(sentence):
        part = part.strip().rstrip(";:,").strip()
        if part:
            part = part[0].upper() + part[1:]
            if part[-1] not in ".!?\"'":
                part += "."
            out.append(part)
    return out


def sentences_from(texts: Iterable[str], min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> list[str]:
    """Split each text into sentences, clean them and keep those that pass :func:`clean_sentence`.

    A sentence longer than ``max_words`` is split into its ``;``/``:`` clauses (each cleaned and
    filtered the same way), which keeps the long compound sentences of the Bibles usable.
    """
    out = []
    for t in texts:
        for s in split_sentences(t):
            c = clean_sentence(s, min_words, max_words)
            if c is not None:
                out.append(c)
            elif len(s.split()) > max_words:
                out.extend(c for c in (clean_sentence(p, min_words, max_words) for p in split_clauses(s)) if c)
    return out
