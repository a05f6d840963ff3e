"""Looking words up both ways (exact, prefix, full text) and the numbers ``dict stats`` reports."""

from __future__ import annotations

import pytest

from kit.corpus import import_corpus
from kit.dictionary.search import fts_query, search, stats
from kit.dictionary.store import import_files


@pytest.fixture
def welsh(workspace, tmp_path):
    f = tmp_path / "words.tsv"
    f.write_text("cy\ten\tpos\ncath\tcat\tn\ncathod\tcats\tn\ncath fach\tkitten\tn\nci\tdog\tn\n"
                 "Caerdydd\tCardiff\tnp\n", encoding="utf-8")
    g = tmp_path / "more-eng-cym.tsv"
    g.write_text("cat\tcath\tn\ncatalogue\tcatalog\tn\n", encoding="utf-8")
    import_files(workspace, [f, g])
    return workspace


def test_exact_matches_come_first_in_both_directions(welsh):
    rows = search(welsh, "cath")
    assert [(r["headword"], r["translation"], r["match"]) for r in rows[:2]] == [
        ("cath", "cat", "headword"), ("cat", "cath", "translation")]
    rest = {(r["headword"], r["match"]) for r in rows[2:]}
    assert {("cath fach", "prefix"), ("cathod", "prefix")} <= rest


def test_case_insensitive_and_full_text(welsh):
    assert search(welsh, "caerdydd")[0]["translation"] == "Cardiff"
    assert ("cath fach", "kitten") in [(r["headword"], r["translation"]) for r in search(welsh, "fach")]


def test_lang_filter_limit_and_odd_input(welsh):
    assert all("cy" in (r["headword_lang"], r["translation_lang"]) for r in search(welsh, "cat", lang="cy"))
    assert len(search(welsh, "ca", limit=2)) == 2
    assert search(welsh, "   ") == []
    assert search(welsh, 'cat" OR *') != []  # FTS syntax in the query is not an error
    assert fts_query('a"b') == '"a"* OR "b"*'


def test_stats_counts_and_coverage(welsh, tmp_path):
    text = tmp_path / "mono.txt"
    text.write_text("cath ci\nci ci aderyn\n", encoding="utf-8")
    import_corpus(welsh, text, "mono", heldout_fraction=0)
    s = stats(welsh)
    assert (s["entries"], s["dictionaries"], s["segments"]) == (7, 2, 2)
    assert s["headwords"] == 7
    assert [d["direction"] for d in s["per_dictionary"]] == ["cy-en", "en-cy"]
    assert s["per_direction"] == {"cy-en": 5, "en-cy": 2}
    assert s["coverage"] == pytest.approx(4 / 5)  # cath, ci×3 known; aderyn not


def test_package_exports_the_functions_whatever_was_imported_first():
    import subprocess
    import sys

    code = ("import kit.dictionary.search, kit.dictionary; from kit.dictionary import search, stats; "
            "assert callable(search) and callable(stats) and callable(kit.dictionary.search)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_full_text_ranks_entries_sharing_more_words_first(welsh):
    rows = search(welsh, "cath kitten")
    assert (rows[0]["headword"], rows[0]["translation"], rows[0]["match"]) == ("cath fach", "kitten", "text")
    assert len(rows) > 1
