"""The World English Bible (``sword-text-web`` + ``diatheke``) and the King James Version (``bible-kjv``).

Both are dumped once with the Debian tools and cached as text under :func:`cache_dir`:

* WEB: ``diatheke -b engWEB2015eb -o n -f plain -k 'Genesis 1:1-Revelation 22:21'``. The dump
  carries Strong's numbers (``<H0430>``), leaked OSIS markup and psalm titles repeated before
  thousands of verses; :func:`parse_web` strips the tags and drops those headings.
* KJV: ``bible -l100000 gen1:1-rev22:21`` (chapter header lines, then ``  N text`` per verse).

Verses are keyed by ``(book, chapter, verse)`` with canonical book names (``1 Samuel``,
``Revelation``), so the two translations align verse by verse (paraphrase pairs). The split unit
is the chapter, so both translations put a verse in the same split.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from semcom_ota.data.base import DataUnavailable, cache_dir
from semcom_ota.data.text import normalise

log = logging.getLogger(__name__)

VerseKey = tuple[str, int, int]
WEB_MODULE = "engWEB2015eb"
WEB_RANGE = "Genesis 1:1-Revelation 22:21"
KJV_RANGE = "gen1:1-rev22:21"
WEB_FIX = "apt-get install diatheke sword-text-web"
KJV_FIX = "apt-get install bible-kjv bible-kjv-text"
TOOL_PATH_ENV = "SEMCOM_TOOL_PATH"

_ROMAN = {"I": "1", "II": "2", "III": "3", "IV": "4"}
_ALIASES = {"Revelation of John": "Revelation", "Psalm": "Psalms", "Song of Songs": "Song of Solomon"}
_TITLE = re.compile(r"<title[^>]*>.*?</title>")
_STRONGS = re.compile(r"<[HG]\d+[a-z]?>")
_TAG = re.compile(r"<[A-Za-z/][^>]*>")
_WEB_VERSE = re.compile(r"^\s*((?:[IV]+ )?[A-Z][A-Za-z]*(?: [A-Za-z()]+)*?) (\d+):(\d+):(?: |$)(.*)$")
_KJV_CHAPTER = re.compile(r"^(\S.*?) (\d+)$")
_KJV_VERSE = re.compile(r"^\s+(\d+) (.*)$")
_WEB_GLOSSARY = "The following words used in the World English Bible"
_GLUED = re.compile(r"\b([a-z]{2,})([A-Z][a-z]+)\b")  # "only bornSon": words glued where markup was
HEADING_MIN_REPEATS = 50  # a non-verse line repeated this often anywhere is a leaked heading


def canonical_book(name: str) -> str:
    """``I Samuel`` → ``1 Samuel``, ``Revelation of John`` → ``Revelation``; other names unchanged."""
    name = " ".join(name.split())
    first, _, rest = name.partition(" ")
    if first in _ROMAN and rest:
        name = f"{_ROMAN[first]} {rest}"
    return _ALIASES.get(name, name)


def _tool(name: str, fix: str) -> str:
    path = shutil.which(name, path=os.environ.get(TOOL_PATH_ENV) or None)
    if path is None:
        where = os.environ.get(TOOL_PATH_ENV) or "$PATH"
        raise DataUnavailable(f"`{name}` not found on {where}; install the Debian packages: {fix}")
    return path


def _dump(cache_name: str, argv: list[str], fix: str, min_bytes: int) -> str:
    """Run ``argv`` once and cache its stdout as ``cache_dir()/cache_name``; return the text."""
    path = cache_dir() / cache_name
    if path.is_file() and path.stat().st_size >= min_bytes:
        return path.read_text(encoding="utf-8")
    exe = _tool(argv[0], fix)
    log.info("dumping %s with %s (once; cached at %s)", cache_name, argv[0], path)
    proc = subprocess.run([exe, *argv[1:]], capture_output=True, timeout=600, check=False)
    text = proc.stdout.decode("utf-8", errors="replace")
    if proc.returncode != 0 or len(text.encode()) < min_bytes:
        raise DataUnavailable(
            f"`{' '.join(argv)}` gave {len(text)} characters (exit {proc.returncode}, stderr "
            f"{proc.stderr.decode(errors='replace')[:200]!r}); expected a full Bible; install: {fix}")
    tmp = path.with_suffix(f".tmp{os.getpid()}")  # atomic: concurrent processes never see half a dump
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return text


def dump_web() -> str:
    """The raw ``diatheke`` dump of the WEB (cached)."""
    return _dump(f"web-{WEB_MODULE}.txt", ["diatheke", "-b", WEB_MODULE, "-o", "n", "-f", "plain", "-k", WEB_RANGE],
                 WEB_FIX, min_bytes=1_000_000)


def dump_kjv() -> str:
    """The raw ``bible`` dump of the KJV (cached)."""
    return _dump("kjv.txt", ["bible", "-l100000", KJV_RANGE], KJV_FIX, min_bytes=1_000_000)


def _strip_web_markup(line: str) -> str:
    line = _TITLE.sub(" ", line)
    line = _STRONGS.sub(" ", line)
    return _TAG.sub(" ", line).rstrip()


def parse_web(dump: str) -> dict[VerseKey, str]:
    """Verses of a WEB dump: ``{(book, chapter, verse): normalised text}`` in canonical order.

    Lines between verse starts are continuation lines (poetry) unless they are headings: a line
    after a blank line whose text recurs after blank lines elsewhere (psalm titles repeated before
    every verse of the psalm, acrostic letters), or a line repeated ≥ ``HEADING_MIN_REPEATS``
    times anywhere (a psalm title leaked before ~9 600 verses).
    """
    cut = dump.find(_WEB_GLOSSARY)
    if cut >= 0:
        dump = dump[:cut]
    lines = [_strip_web_markup(x) for x in dump.splitlines()]
    is_start = [_WEB_VERSE.match(x) for x in lines]
    anywhere: Counter[str] = Counter()
    after_blank: Counter[str] = Counter()
    blank = False
    for line, m in zip(lines, is_start):
        s = line.strip()
        if m:
            blank = False
        elif not s:
            blank = True
        else:
            anywhere[s] += 1
            if blank:
                after_blank[s] += 1
    headings = {s for s, n in after_blank.items() if n >= 2} | {s for s, n in anywhere.items() if n >= HEADING_MIN_REPEATS}

    verses: dict[VerseKey, list[str]] = {}
    current: list[str] | None = None
    for line, m in zip(lines, is_start):
        if m:
            key = (canonical_book(m.group(1)), int(m.group(2)), int(m.group(3)))
            current = verses.setdefault(key, [])
            current.append(m.group(4))
            continue
        s = line.strip()
        if s and current is not None and s not in headings:
            current.append(s)
    out = {}
    for key, parts in verses.items():
        text = _GLUED.sub(r"\1 \2", normalise(" ".join(parts)))
        if text:
            out[key] = text
    return out


def parse_kjv(dump: str) -> dict[VerseKey, str]:
    """Verses of a ``bible`` (bible-kjv) dump: ``{(book, chapter, verse): normalised text}``."""
    out: dict[VerseKey, str] = {}
    book, chapter = None, None
    for line in dump.splitlines():
        if not line.strip():
            continue
        m = _KJV_VERSE.match(line)
        if m and book is not None:
            out[(book, chapter, int(m.group(1)))] = normalise(m.group(2))
            continue
        h = _KJV_CHAPTER.match(line)
        if h:
            book, chapter = canonical_book(h.group(1)), int(h.group(2))
    return out


_VERSES: dict[tuple[str, str], dict[VerseKey, str]] = {}


def _memo(name: str, dump_fn, parse_fn) -> dict[VerseKey, str]:
    key = (name, str(cache_dir()))
    if key not in _VERSES:
        _VERSES[key] = parse_fn(dump_fn())
    return _VERSES[key]


def web_verses() -> dict[VerseKey, str]:
    """All WEB verses (including the deuterocanon), parsed once per process."""
    return _memo("web", dump_web, parse_web)


def kjv_verses() -> dict[VerseKey, str]:
    """All KJV verses (31 102), parsed once per process."""
    return _memo("kjv", dump_kjv, parse_kjv)


def chapter_unit(key: VerseKey) -> str:
    """The split unit of a verse: its book and chapter (shared by both translations)."""
    return f"bible:{key[0]}:{key[1]}"


def cache_path(name: str) -> Path:
    """Where the dump ``name`` ("web" or "kjv") is cached."""
    return cache_dir() / (f"web-{WEB_MODULE}.txt" if name == "web" else "kjv.txt")
