"""Every reader on a real (demo or hand-made) file: what lands in SQLite, and where."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from kit.corpus import parallel_pairs
from kit.dictionary.detect import detect_format
from kit.dictionary.store import import_files
from kit.errors import InputFormatError, TaalkitError

HERE = Path(__file__).parent / "data"


def entries(ws, dictionary_id=None):
    sql = "select headword, translation, pos, sense from entries"
    args = []
    if dictionary_id is not None:
        sql += " where dictionary_id = ?"
        args.append(dictionary_id)
    return ws.db.execute(sql + " order by id", args).fetchall()


@pytest.mark.parametrize("name, expected", [
    ("cy/dictd/freedict-cym-eng.index", "dictd"),
    ("af/afr-nld.bidix.tsv", "apertium-tsv"),
    ("fy/glossary_en_fy.tsv", "tsv"),
    ("cy/train_en_cy.tsv", "tsv"),
])
def test_detects_demo_formats(demo_data, name, expected):
    assert detect_format(demo_data / name) == expected


@pytest.mark.parametrize("name, expected", [
    ("freedict-cym-eng.tei", "tei"), ("apertium-afr-nld.afr-nld.dix", "apertium-dix"),
    ("cy.po", "po"), ("sample.tmx", "tmx"),
])
def test_detects_hand_made_formats(name, expected, tmp_path):
    assert detect_format(HERE / name) == expected
    # and by content when the extension says nothing
    renamed = tmp_path / "mystery.txt"
    renamed.write_bytes((HERE / name).read_bytes())
    assert detect_format(renamed) == expected


def test_tei_entries_senses_and_header(workspace):
    r = import_files(workspace, [HERE / "freedict-cym-eng.tei"])[0]
    assert (r.format, r.headword_lang, r.translation_lang) == ("tei", "cy", "en")
    assert set(entries(workspace)) == {
        ("cath", "cat", "n", 1), ("tŷ", "house", "n", 1), ("tŷ", "home", "n", 1),
        ("tŷ", "building", "n", 2), ("ci", "dog", None, None),
    }
    name, licence, url = workspace.db.execute("select name, licence, url from dictionaries").fetchone()
    assert (name, licence, url) == ("Tiny Welsh-English test dictionary", "GPL-2+", "https://freedict.org/")


def test_apertium_dix_pairs_identity_and_multiwords(workspace):
    r = import_files(workspace, [HERE / "apertium-afr-nld.afr-nld.dix"])[0]
    assert (r.headword_lang, r.translation_lang) == ("af", "nl")
    assert set(entries(workspace)) == {
        ("huis", "huis", "n", None), ("loop", "lopen", "vblex", None),
        ("Afrika", "Afrika", "np", None), ("goeie môre", "goede morgen", "ij", None),
    }
    extra = workspace.db.execute("select extra from entries where headword = 'loop'").fetchone()[0]
    assert '"restriction": "LR"' in extra


def test_apertium_tsv_demo_file(demo_data, workspace):
    r = import_files(workspace, [demo_data / "af/afr-nld.bidix.tsv"])[0]
    lines = (demo_data / "af/afr-nld.bidix.tsv").read_text(encoding="utf-8").splitlines()
    assert r.count + r.duplicates == len(lines)
    assert r.format == "apertium-tsv" and r.count > 6000


def test_glossary_tsv_with_named_columns(demo_data, workspace):
    r = import_files(workspace, [demo_data / "fy/glossary_en_fy.tsv"], columns="source,target,origin")[0]
    assert (r.headword_lang, r.translation_lang) == ("en", "fy")  # from the file name
    row = workspace.db.execute("select headword, translation, pos, extra from entries order by id limit 1").fetchone()
    assert row == ("Abkhazian", "Abchazysk", None, '{"origin": "cldr"}')


def test_tsv_header_names_languages(tmp_path, workspace):
    f = tmp_path / "words.tsv"
    f.write_text("cy\ten\tpos\ncath\tcat\tn\nci\tdog\tn\n", encoding="utf-8")
    r = import_files(workspace, [f])[0]
    assert (r.headword_lang, r.translation_lang, r.count) == ("cy", "en", 2)
    assert entries(workspace)[0] == ("cath", "cat", "n", None)


def test_csv_with_quotes(tmp_path, workspace):
    f = tmp_path / "words.csv"
    f.write_text('source,target,pos\n"hello, friend","helo, ffrind",phrase\ncat,cath,n\n', encoding="utf-8")
    import_files(workspace, [f])
    assert entries(workspace) == [("hello, friend", "helo, ffrind", "phrase", None), ("cat", "cath", "n", None)]


def test_po_goes_to_parallel_segments(workspace):
    r = import_files(workspace, [HERE / "cy.po"])[0]
    assert r.kind == "parallel"
    assert parallel_pairs(workspace, split=None) == [
        ("Open file", "Agor ffeil"), ("Quit", "Gadael"), ("A message on two lines", "Neges ar ddwy linell"),
        ("%d file", "%d ffeil"), ("%d files", "%d ffeiliau"),
    ]  # fuzzy, untranslated and obsolete messages left out
    assert workspace.db.execute("select count(*) from entries").fetchone()[0] == 0


def write_mo(path: Path, messages: dict[str, str]) -> None:
    """A real little-endian GNU .mo file (the layout msgfmt writes)."""
    keys = sorted(messages)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(messages[k].encode() + b"\0" for k in keys)
    start = 28 + 16 * len(keys)
    otable, ttable, o, t = [], [], 0, 0
    for k in keys:
        otable.append((len(k.encode()), start + o))
        o += len(k.encode()) + 1
    for k in keys:
        ttable.append((len(messages[k].encode()), start + len(ids) + t))
        t += len(messages[k].encode()) + 1
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 28, 28 + 8 * len(keys), 0, 0)
    body = b"".join(struct.pack("<2I", *x) for x in otable + ttable)
    path.write_bytes(header + body + ids + strs)


def test_mo_goes_to_parallel_segments(tmp_path, workspace):
    mo = tmp_path / "cy.mo"
    write_mo(mo, {"": "Language: cy\nContent-Type: text/plain; charset=UTF-8\n", "Open": "Agor",
                  "menu\x04Quit": "Gadael", "%d file\x00%d files": "%d ffeil\x00%d ffeiliau"})
    assert detect_format(mo) == "mo"
    r = import_files(workspace, [mo])[0]
    assert (r.kind, r.format, r.translation_lang) == ("parallel", "mo", "cy")
    assert sorted(parallel_pairs(workspace, split=None)) == sorted([
        ("Open", "Agor"), ("Quit", "Gadael"), ("%d file", "%d ffeil"), ("%d files", "%d ffeiliau")])


def test_truncated_mo_is_rejected(tmp_path, workspace):
    mo = tmp_path / "cut.mo"
    write_mo(mo, {"Open": "Agor", "Close": "Cau"})
    mo.write_bytes(mo.read_bytes()[:40])
    with pytest.raises(InputFormatError, match="cut.mo"):
        import_files(workspace, [mo])
    assert workspace.db.execute("select count(*) from segments").fetchone()[0] == 0


def test_tmx_keeps_workspace_languages_and_drops_inline_codes(workspace):
    import_files(workspace, [HERE / "sample.tmx"])
    assert parallel_pairs(workspace, split=None) == [("Good morning", "Bore da"), ("Click here", "Cliciwch yma")]


def test_parallel_kind_stores_tsv_as_segments(demo_data, workspace):
    r = import_files(workspace, [demo_data / "cy/train_en_cy.tsv"], kind="parallel")[0]
    assert r.kind == "parallel" and r.count == 15349
    assert workspace.db.execute("select count(*) from entries").fetchone()[0] == 0


def test_unknown_format_name_is_refused(workspace):
    with pytest.raises(TaalkitError, match="unknown format 'xls'"):
        import_files(workspace, [HERE / "cy.po"], format="xls")


def test_tei_p4_with_doctype_and_grammar_group(workspace):
    assert detect_format(HERE / "freedict-p4-cym-eng.tei") == "tei"
    import_files(workspace, [HERE / "freedict-p4-cym-eng.tei"])
    assert entries(workspace) == [("gŵr", "man", "n, s, m", None), ("gŵr", "husband", "n, s, m", None),
                                  ("na", "(n)or", "c", None)]
    assert workspace.db.execute("select licence from dictionaries").fetchone() == ("GPL",)


@pytest.mark.parametrize("header, roles", [
    ("en\tfy\torigin", ["source", "target", "origin"]),
    ("cy\ten\tpos", ["source", "target", "pos"]),
    ("translation\theadword", ["target", "source"]),
    ("source\ttarget\tnote", ["source", "target", "note"]),
])
def test_header_roles(header, roles):
    from kit.dictionary.tabular import header_roles

    assert header_roles(header.split("\t")) == roles
