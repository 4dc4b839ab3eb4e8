"""Sentence corpora and KJV/WEB paraphrase pairs on the real Debian/PyPI data."""

import re

import pytest

from semcom_ota import data
from semcom_ota.data import bible
from semcom_ota.data.corpora import alignment_rate, parse_play

# Measured on this machine (seed 0): web 47 472, kjv 37 472, fortunes 23 998, shakespeare 57 298.
MIN_TOTAL = {"web": 45_000, "kjv": 35_000, "fortunes": 21_000, "shakespeare": 50_000}
DIGITS_ONLY = re.compile(r"^[\W_]*\d[\d,.:;/-]*[\W_]*$")


@pytest.mark.parametrize("corpus", data.CORPORA)
def test_corpus_sizes_and_ratios(corpus, corpus_splits):
    sizes = {s: len(v) for s, v in corpus_splits[corpus].items()}
    total = sum(sizes.values())
    assert total >= MIN_TOTAL[corpus], sizes
    assert 0.7 < sizes["train"] / total < 0.9, sizes
    assert 0.04 < sizes["val"] / total < 0.16 and 0.04 < sizes["test"] / total < 0.16, sizes


@pytest.mark.parametrize("corpus", data.CORPORA)
def test_corpus_splits_are_disjoint_and_deduplicated(corpus, corpus_splits):
    sets = {s: set(v) for s, v in corpus_splits[corpus].items()}
    for s, v in corpus_splits[corpus].items():
        assert len(sets[s]) == len(v), f"{corpus}/{s} has duplicates"
    assert not sets["train"] & sets["val"] and not sets["train"] & sets["test"] and not sets["val"] & sets["test"]


@pytest.mark.parametrize("corpus", data.CORPORA)
def test_sentences_are_clean(corpus, corpus_splits):
    for s in (x for v in corpus_splits[corpus].values() for x in v):
        words = s.split(" ")
        assert 4 <= len(words) <= 30, s
        assert not any(DIGITS_ONLY.match(w) for w in words), s
        assert "<" not in s and ">" not in s and "  " not in s and "\u201c" not in s and "**" not in s, s
        assert not re.search(r"\b[HG]\d{3,4}\b", s), s  # no Strong's numbers


def test_split_is_deterministic_and_seeded(corpus_splits):
    assert data.load_sentences("fortunes", "test") == corpus_splits["fortunes"]["test"]
    other = data.load_sentences("fortunes", "test", seed=1)
    assert other != corpus_splits["fortunes"]["test"]
    assert abs(len(other) - len(corpus_splits["fortunes"]["test"])) < 600


def test_bible_headings_and_markup_are_gone(corpus_splits):
    web = bible.web_verses()
    assert web[("Psalms", 145, 1)] == "I will exalt you, my God, the King. I will praise your name forever and ever."
    assert web[("Genesis", 1, 1)] == "In the beginning, God created the heavens and the earth."
    assert "only born Son" in web[("John", 3, 16)]  # "bornSon" glued in the module
    all_web = [x for v in corpus_splits["web"].values() for x in v]
    for heading in ("A praise psalm by David.", "This Psalm is a genuine one of David"):
        assert not any(heading in s for s in all_web)
    assert sum("Chief Musician" in s for s in all_web) < 5  # titles dropped (the word occurs in Habakkuk 3:19)


def test_paraphrase_pairs_align_and_split_by_chapter(pair_splits, corpus_splits):
    aligned, total = alignment_rate()
    assert total == 31102 and aligned / total >= 0.95
    assert 0.99 * aligned <= sum(len(v) for v in pair_splits.values()) <= aligned
    first = {s: v[0] for s, v in pair_splits.items() if v}
    genesis = [kw for kw in first.values() if kw[0].startswith("In the beginning God created the heaven")]
    assert genesis == [("In the beginning God created the heaven and the earth.",
                        "In the beginning, God created the heavens and the earth.")]
    for side in (0, 1):  # no verse text (either translation) is shared between splits
        texts = {s: {p[side] for p in v} for s, v in pair_splits.items()}
        assert not texts["train"] & texts["test"] and not texts["train"] & texts["val"] and not texts["val"] & texts["test"]
    assert {s: len(v) for s, v in pair_splits.items()} == {s: len(data.load_paraphrase_pairs(s)) for s in data.SPLITS}


def test_parse_play_drops_directions_and_speakers():
    md = ("# A Play\n\n## ACT I\n\n### SCENE I. A room.\n\n_Enter KING and\nQUEEN_\n\n**KING**  \n"
          "__\\[Aside]_  \nNow is the winter of our discontent  \nMade glorious summer. _Exit_\n\n**QUEEN**  \nWhat, my lord?\n")
    units = parse_play(md, "play")
    assert units == [("shakespeare:play:ACT I:SCENE I. A room.",
                      ["Now is the winter of our discontent Made glorious summer.", "What, my lord?"])]


def test_bad_corpus_and_split_name_the_value():
    with pytest.raises(ValueError, match="corpus='bogus'"):
        data.load_sentences("bogus", "train")
    with pytest.raises(ValueError, match="split='dev'"):
        data.load_sentences("web", "dev")
