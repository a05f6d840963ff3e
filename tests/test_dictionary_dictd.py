"""The shipped Welsh FreeDict dictd files go into SQLite whole, both ways, searchable."""

from __future__ import annotations

import gzip
import shutil

import pytest
from hypothesis import given, strategies as st

from kit.dictionary import dictd
from kit.dictionary.search import search
from kit.dictionary.store import import_files
from kit.errors import InputFormatError, TaalkitError

CYM_ENG = "cy/dictd/freedict-cym-eng.index"
ENG_CYM = "cy/dictd/freedict-eng-cym.index"


@given(st.integers(min_value=0, max_value=2**40))
def test_dictd_numbers_round_trip(n):
    assert dictd.decode_number(dictd.encode_number(n)) == n


def test_dictd_numbers_are_most_significant_first():
    assert dictd.decode_number("BA") == 64
    assert dictd.decode_number("/") == 63


def test_welsh_freedict_pair_imports_both_directions(workspace, demo_data):
    results = import_files(workspace, [demo_data / CYM_ENG, demo_data / ENG_CYM])
    total = workspace.db.execute("select count(*) from entries").fetchone()[0]
    assert total >= 12_000
    assert [(r.headword_lang, r.translation_lang) for r in results] == [("cy", "en"), ("en", "cy")]
    meta = workspace.db.execute("select name, licence, direction from dictionaries order by id").fetchall()
    assert meta[0] == ("Eurfa Cymraeg, Welsh-English Eurfa/Freedict dictionary ver. 0.2.3", "GPL-2+", "cy-en")
    cath = workspace.db.execute(
        "select translation, pos, extra from entries where headword = 'cath' and headword_lang = 'cy'").fetchone()
    assert cath[0] == "cat" and cath[1] == "n, s, f" and "kˈɑːθ" in cath[2]

    found = [(r["headword"], r["translation"]) for r in search(workspace, "cath")]
    assert ("cath", "cat") in found and ("cat", "cath") in found


def test_reimport_is_idempotent(workspace, demo_data):
    first = import_files(workspace, [demo_data / CYM_ENG])
    again = import_files(workspace, [demo_data / CYM_ENG])
    assert again[0].already_imported and again[0].count == first[0].count
    assert workspace.db.execute("select count(*) from entries").fetchone()[0] == first[0].count
    assert workspace.db.execute("select count(*) from dictionaries").fetchone()[0] == 1


def test_reverse_swaps_sides_as_a_separate_direction(workspace, demo_data):
    import_files(workspace, [demo_data / CYM_ENG])
    rev = import_files(workspace, [demo_data / CYM_ENG], reverse=True)[0]
    assert (rev.headword_lang, rev.translation_lang, rev.already_imported) == ("en", "cy", False)
    row = workspace.db.execute(
        "select headword from entries where dictionary_id = ? and translation = 'cath'", [rev.id]).fetchone()
    assert row == ("cat",)


def test_body_headword_keeps_real_spelling_not_index_key(workspace, demo_data):
    import_files(workspace, [demo_data / ENG_CYM])
    rows = workspace.db.execute("select headword from entries where translation = 'Pab'").fetchall()
    assert ("Pope (head of Roman Catholic church)",) in rows


def test_numbered_senses_split_on_commas(tmp_path, workspace):
    body = "aag /ˈɑːx/\n1. ah, oh, ow\n2. woe\n"
    entries = list(dictd.parse_body(body, "aag", 7))
    assert [(e.translation, e.sense) for e in entries] == [("ah", 1), ("oh", 1), ("ow", 1), ("woe", 2)]
    assert dictd.split_translations("space-bars (keyboard, computer), tab") == ["space-bars (keyboard, computer)", "tab"]


def _write_dictd(folder, name, bodies):
    data = "".join(bodies.values()).encode()
    lines, offset = [], 0
    for hw, body in bodies.items():
        n = len(body.encode())
        lines.append(f"{hw}\t{dictd.encode_number(offset)}\t{dictd.encode_number(n)}")
        offset += n
    (folder / f"{name}.index").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / f"{name}.dict.dz").write_bytes(gzip.compress(data))
    return folder / f"{name}.index"


def test_bad_index_line_names_its_line_and_imports_nothing(tmp_path, workspace):
    index = _write_dictd(tmp_path, "freedict-cym-eng", {"cath": "cath <n>\ncat\n", "ci": "ci <n>\ndog\n"})
    text = index.read_text().splitlines()
    text.insert(1, "tŷ\tA!\tB")
    index.write_text("\n".join(text) + "\n")
    with pytest.raises(InputFormatError, match=r"freedict-cym-eng.index:2: expected dictd base64"):
        import_files(workspace, [index])
    assert workspace.db.execute("select count(*) from entries").fetchone()[0] == 0
    assert workspace.db.execute("select count(*) from dictionaries").fetchone()[0] == 0


def test_index_without_dict_dz_is_one_clear_error(tmp_path, workspace, demo_data):
    shutil.copy(demo_data / CYM_ENG, tmp_path / "freedict-cym-eng.index")
    with pytest.raises(TaalkitError, match="without its data file"):
        import_files(workspace, [tmp_path / "freedict-cym-eng.index"])


def test_progress_reports_lines_and_cancel_leaves_nothing(workspace, demo_data):
    from kit.progress import CancelToken, Cancelled

    events = []
    import_files(workspace, [demo_data / CYM_ENG], progress=events.append)
    lines = len((demo_data / CYM_ENG).read_text(encoding="utf-8").splitlines())
    middle = [e for e in events if e.total == lines]
    assert middle and all(0 <= e.done <= lines for e in middle)
    assert [e.done for e in middle] == sorted(e.done for e in middle)
    assert events[-1].fraction == 1.0

    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        import_files(workspace, [demo_data / ENG_CYM], cancel=token)
    assert workspace.db.execute("select count(*) from dictionaries").fetchone()[0] == 1


def test_afrikaans_freedict_numbered_senses_and_url(tmp_path, demo_data):
    from kit.workspace import Workspace

    ws = Workspace.init(tmp_path / "af", "en", "af")
    try:
        afr, eng = import_files(ws, [demo_data / "af/dictd/freedict-afr-eng.index",
                                     demo_data / "af/dictd/freedict-eng-afr.index"])
        assert (afr.headword_lang, afr.translation_lang, eng.headword_lang) == ("af", "en", "en")
        assert afr.count > 10_000 and eng.count > 10_000
        senses = ws.db.execute("select translation, sense from entries where headword = 'aak' "
                               "and headword_lang = 'af' order by sense").fetchall()
        assert senses == [("barge", 1), ("Rhine barge", 2)]
        assert ws.db.execute("select url from dictionaries where id = ?", [afr.id]).fetchone() == (
            "http://freedict.org/",)
    finally:
        ws.close()


def test_labelled_lines_and_examples_are_notes_not_translations():
    body = ('Haus /haʊs/ <n, neut>\n1. house, home\n   Synonym: Gebäude\n   "Das Haus ist alt." - "The house is old."\n'
            "2. household\n   see: Haushalt\n")
    entries = list(dictd.parse_body(body, "haus", 3))
    assert [(e.headword, e.translation, e.pos, e.sense) for e in entries] == [
        ("Haus", "house", "n, neut", 1), ("Haus", "home", "n, neut", 1), ("Haus", "household", "n, neut", 2)]
    assert entries[0].extra["notes"] == {"synonym": ["Gebäude"], "example": ['"Das Haus ist alt." - "The house is old."'],
                                         "see": ["Haushalt"]}
