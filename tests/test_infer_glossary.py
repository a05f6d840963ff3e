"""Dictionary look-ups for the prompt glossary and the word-by-word baseline, on a real SQLite + FTS5 table."""

from __future__ import annotations

import pytest

from kit.infer.glossary import DictionaryLookup, build_glossary, welsh_radicals, words
from kit.infer.wordbyword import word_by_word

ROWS = [
    # headword, translation, pos, headword_lang, translation_lang
    ("file", "ffeil", "n", "en", "cy"),
    ("file", "ffeilio", "v", "en", "cy"),
    ("file", "rhathell", "n", "en", "cy"),
    ("message", "neges", "n", "en", "cy"),
    ("send", "anfon", "v", "en", "cy"),
    ("return receipt", "derbynneb", "n", "en", "cy"),
    ("return", "dychwelyd", "v", "en", "cy"),
    ("the", "y", "art", "en", "cy"),
    ("gwlad", "country", "n", "cy", "en"),
    ("drws", "door", "n", "cy", "en"),
    ("cath", "cat", "n", "cy", "en"),
    ("neges", "message", "n", "cy", "en"),
    # a one-way dictionary stored with ISO 639-3 codes
    ("cyfrifiadur", "computer", "n", "cym", "eng"),
]


@pytest.fixture
def ws(workspace):
    workspace.db["dictionaries"].insert({"id": 1, "name": "test"})
    workspace.db["entries"].insert_all(
        {"dictionary_id": 1, "headword": h, "translation": t, "pos": p, "headword_lang": hl,
         "translation_lang": tl, "sense": i}
        for i, (h, t, p, hl, tl) in enumerate(ROWS)
    )
    return workspace


def lines(glossary):
    return [e.line() for e in glossary.entries]


def test_exact_words_in_input_order_with_stopwords_left_out(ws):
    g = build_glossary(ws, "Send the message.", source_lang="en", target_lang="cy")
    assert lines(g) == ["send = anfon (v)", "message = neges (n)"]
    assert g.prompt_text().splitlines()[0] == "Dictionary (English = Welsh):"


def test_lemma_by_prefix_and_per_word_limit(ws):
    g = build_glossary(ws, "Files", source_lang="en", target_lang="cy", per_word=2)
    assert [(e.word, e.headword, e.translation, e.how) for e in g.entries] == [
        ("Files", "file", "ffeil", "prefix"), ("Files", "file", "ffeilio", "prefix")]


def test_two_word_headwords_match_as_phrases(ws):
    g = build_glossary(ws, "Send a return receipt", source_lang="en", target_lang="cy")
    assert "return receipt = derbynneb (n)" in lines(g)
    assert ("phrase" in [e.how for e in g.entries])


def test_welsh_mutations_are_undone(ws):
    g = build_glossary(ws, "ei ddrws, fy ngwlad, y gath", source_lang="cy", target_lang="en")
    assert [(e.word, e.headword, e.how) for e in g.entries] == [
        ("ddrws", "drws", "mutation"), ("ngwlad", "gwlad", "mutation"), ("gath", "cath", "mutation")]
    assert "drws" in welsh_radicals("ddrws") and "cath" in welsh_radicals("gath")


def test_reverse_direction_and_language_aliases(ws):
    # computer -> cyfrifiadur exists only as a cym->eng entry: found by its translation.
    g = build_glossary(ws, "computer", source_lang="en", target_lang="cy")
    assert [(e.headword, e.translation, e.how) for e in g.entries] == [("computer", "cyfrifiadur", "reverse")]


def test_cap_and_deduplication(ws):
    g = build_glossary(ws, "file file files message send return", source_lang="en", target_lang="cy",
                       max_entries=3)
    assert len(g.entries) == 3
    assert len({(e.headword, e.translation) for e in g.entries}) == 3


def test_empty_dictionary_gives_an_empty_glossary(workspace):
    g = build_glossary(workspace, "Send the message", source_lang="en", target_lang="cy")
    assert not g and g.prompt_text() == ""


def test_words_keep_letters_and_apostrophes():
    assert words("Mae'r neges 3 %S yn ôl!") == ["Mae'r", "neges", "S", "yn", "ôl"]


def test_word_by_word_baseline(ws):
    assert word_by_word(ws, "Send the message to 3 files.", source_lang="en", target_lang="cy") == \
        "Anfon y neges to 3 ffeil."
    lookup = DictionaryLookup(ws, "cy", "en")
    assert word_by_word(ws, "y gath", source_lang="cy", target_lang="en", lookup=lookup) == "y cat"
