"""Importer limits: oversized cells, bad bytes under --skip-bad, gettext's escape rules (cases 8-10)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from kit.dictionary import import_files
from kit.errors import InputFormatError
from kit.workspace import Workspace

TAALKIT = [sys.executable, "-m", "kit.cli"]


def _counts(ws) -> dict:
    tables = [r[0] for r in ws.db.execute("select name from sqlite_master where type = 'table'")]
    return {t: ws.db.execute(f"select count(*) from [{t}]").fetchone()[0] for t in tables}


@pytest.fixture
def ws(tmp_path):
    ws = Workspace.init(tmp_path / "ws", source="en", target="cy")
    yield ws
    ws.close()


# -- 8. a cell has a size ---------------------------------------------------------------------------


def test_an_oversized_cell_is_refused_with_file_and_line(ws, tmp_path):
    tsv = tmp_path / "en_cy.tsv"
    tsv.write_text("cat\tcath\n" + "x" * 200_000 + "\tbig\nhouse\ttŷ\n", encoding="utf-8")
    before = _counts(ws)
    with pytest.raises(InputFormatError, match=r"en_cy\.tsv:2: expected a headword of at most 64 K characters"):
        import_files(ws, [tsv])
    assert _counts(ws) == before
    rejects = tmp_path / "rejects.txt"
    (result,) = import_files(ws, [tsv], rejects_path=rejects)
    assert (result.count, result.rejected) == (2, 1)
    assert ":2: expected a headword of at most 64 K" in rejects.read_text(encoding="utf-8")


def test_an_endless_line_is_refused_without_holding_it(ws, tmp_path):
    """A 50 MB line with one tab (the report's case): refused by line length, FILE:LINE named."""
    tsv = tmp_path / "en_cy.tsv"
    with open(tsv, "wb") as f:
        f.write(b"cat\tcath\n")
        f.write(b"a\t" + b"b" * (50 << 20) + b"\n")
        f.write(b"house\tt\xc5\xb7\n")
    before = _counts(ws)
    with pytest.raises(InputFormatError, match=r"en_cy\.tsv:2: expected a line of at most 4 MB, found 50\.0 MB"):
        import_files(ws, [tsv])
    assert _counts(ws) == before
    size = os.path.getsize(ws.db_path)
    (result,) = import_files(ws, [tsv], rejects_path=tmp_path / "r.txt")
    assert result.count == 2 and os.path.getsize(ws.db_path) < size + (4 << 20)


def test_an_oversized_segment_is_refused(ws, tmp_path):
    from kit.corpus import import_corpus

    text = tmp_path / "cy.txt"
    text.write_text("Bore da.\n" + "gair " * 300_000 + "\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"cy\.txt:2: expected a target text of at most 1024 K"):
        import_corpus(ws, text, "mono")


# -- 9. --skip-bad skips a bad-UTF-8 line -------------------------------------------------------------


@pytest.mark.parametrize("verb,name,body", [
    (("dict", "import"), "en_cy.tsv", b"cat\tcath\ncaf\xe9\tcaffi\nhouse\tt\xc5\xb7\n"),
    (("corpus", "import"), "pairs.tsv", b"The cat.\tY gath.\nA caf\xe9.\tCaffi.\nThe house.\tY t\xc5\xb7.\n"),
    (("corpus", "import", "--kind", "mono"), "cy.txt", b"Y gath.\nCaffi \xe9.\nY t\xc5\xb7.\n"),
    (("dict", "import"), "cy.po", b'msgid "cat"\nmsgstr "cath"\n\nmsgid "caf\xe9"\nmsgstr "caffi"\n\n'
                                  b'msgid "house"\nmsgstr "t\xc5\xb7"\n'),
])
def test_skip_bad_sets_a_bad_utf8_line_aside(ws, tmp_path, verb, name, body):
    src = tmp_path / name
    src.write_bytes(body)
    without = subprocess.run([*TAALKIT, "-w", str(ws.root), *verb, str(src)], capture_output=True, text=True,
                             timeout=120)
    assert without.returncode == 2 and "Traceback" not in without.stderr
    assert "expected UTF-8 text" in without.stderr
    rejects = tmp_path / "rejects.txt"
    result = subprocess.run([*TAALKIT, "-w", str(ws.root), *verb, str(src), "--skip-bad", str(rejects)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 rejected" in result.stdout
    lines = rejects.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and "expected UTF-8 text, found byte 0xe9" in lines[0]
    assert lines[0].startswith(f"{src}:{4 if name.endswith('.po') else 2}:")


# -- 10. .po escapes follow gettext -------------------------------------------------------------------

PO_HEADER = 'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
ESCAPES = [
    (r'"\101\102"', "AB"),
    (r'"\x41\x42"', "AB"),
    (r'"\303\251"', "é"),
    (r'"tab\there"', "tab\there"),
    (r'"say \"hi\""', 'say "hi"'),
    (r'"back\\slash"', "back\\slash"),
    (r'"abc', None),  # unterminated
    (r'"abc\"', None),  # the last quote is escaped: unterminated
    (r'"a\qb"', None),  # invalid control sequence
    (r'"\x"', None),
    (r'"ab" x', None),  # text after the string
]


def _msgfmt_accepts(po) -> bool:
    return subprocess.run(["msgfmt", "--check", "-o", os.devnull, str(po)], capture_output=True).returncode == 0


@pytest.mark.parametrize("literal,want", ESCAPES)
def test_po_escapes_follow_gettext(ws, tmp_path, literal, want):
    po = tmp_path / "cy.po"
    po.write_text(PO_HEADER + f'msgid "key"\nmsgstr {literal}\n', encoding="utf-8")
    if shutil.which("msgfmt"):
        assert _msgfmt_accepts(po) == (want is not None), "the test's expectation disagrees with msgfmt"
    if want is None:
        with pytest.raises(InputFormatError, match=r"cy\.po:5: "):
            import_files(ws, [po])
        assert ws.db.execute("select count(*) from segments").fetchone()[0] == 0
        return
    import_files(ws, [po])
    assert ws.db.execute("select source_text, target_text from segments").fetchall() == [("key", want)]
