"""Bad input: one clear line naming the file (and line), exit code 2, nothing half-imported."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli import main
from kit.textio import files as textfile
from kit.dictionary.store import import_files
from kit.errors import InputFormatError, TaalkitError

HERE = Path(__file__).parent / "data"


def counts(ws):
    return tuple(ws.db.execute(f"select count(*) from {t}").fetchone()[0]
                 for t in ("dictionaries", "entries", "entries_fts", "corpora", "segments"))


def test_one_broken_line_in_the_middle_imports_nothing(workspace):
    with pytest.raises(InputFormatError) as err:
        import_files(workspace, [HERE / "broken_middle.tsv"])
    assert str(err.value) == f"{HERE / 'broken_middle.tsv'}:10: expected source<TAB>target, found 1 column"
    assert counts(workspace) == (0, 0, 0, 0, 0)


def test_a_bad_second_file_rolls_back_the_first(workspace, demo_data):
    with pytest.raises(InputFormatError, match="broken_middle.tsv:10"):
        import_files(workspace, [demo_data / "fy/glossary_en_fy.tsv", HERE / "broken_middle.tsv"])
    assert counts(workspace) == (0, 0, 0, 0, 0)


def test_skip_bad_imports_good_rows_and_writes_rejects(workspace, tmp_path):
    rejects = tmp_path / "rejects.txt"
    r = import_files(workspace, [HERE / "broken_middle.tsv"], rejects_path=rejects)[0]
    assert (r.count, r.rejected) == (19, 1)
    assert rejects.read_text(encoding="utf-8") == (
        f"{HERE / 'broken_middle.tsv'}:10: expected source<TAB>target, found 1 column\tword10 gair10 n\n")
    assert workspace.db.execute("select count(*) from entries where headword = 'word10'").fetchone()[0] == 0


@pytest.mark.parametrize("name, message", [
    ("latin1.tsv", "latin1.tsv:1: expected UTF-8 text, found byte 0xe9"),
    ("empty.tsv", "empty.tsv: the file is empty"),
    ("junk.tsv", "junk.tsv: looks like binary data"),
    ("orphan/freedict-cym-eng.index", "freedict-cym-eng.index: dictd index without its data file"),
    ("broken-cym-eng.tei", "broken-cym-eng.tei:30: expected well-formed XML, found mismatched tag"),
    ("broken.po", 'broken.po:22: expected msgctxt, msgid, msgstr or "…", found msgstr Gadael'),
])
def test_cli_bad_file_is_one_line_and_exit_2(tmp_path, name, message):
    ws = tmp_path / "ws"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(ws), "--source", "en", "--target", "cy"]).exit_code == 0
    result = runner.invoke(main, ["-w", str(ws), "dict", "import", str(HERE / name)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in result.output


def test_file_of_two_gigabytes_is_refused_before_reading(tmp_path, workspace):
    huge = tmp_path / "huge.tsv"
    with open(huge, "wb") as f:  # sparse: takes no disk space
        f.truncate(textfile.MAX_BYTES)
    with pytest.raises(TaalkitError, match=r"huge.tsv: 2.0 GB is too large to import"):
        import_files(workspace, [huge])


def test_missing_file(workspace, tmp_path):
    with pytest.raises(TaalkitError, match="no such file"):
        import_files(workspace, [tmp_path / "nope.tsv"])


def test_utf16_with_bom_is_read(tmp_path, workspace):
    f = tmp_path / "words.tsv"
    f.write_bytes("cath\tcat\nci\tdog\n".encode("utf-16"))
    assert import_files(workspace, [f])[0].count == 2


def test_crlf_and_bom_are_handled(tmp_path, workspace):
    f = tmp_path / "words.tsv"
    f.write_bytes(b"\xef\xbb\xbfcath\tcat\r\nci\tdog\r\n")
    import_files(workspace, [f])
    assert workspace.db.execute("select headword_orig, translation_orig from entries order by id").fetchall() == [
        ("cath", "cat"), ("ci", "dog")]


def test_file_with_no_entries(tmp_path, workspace):
    f = tmp_path / "blank.tsv"
    f.write_text("\n\n   \n", encoding="utf-8")
    with pytest.raises(TaalkitError, match="no dictionary entries found"):
        import_files(workspace, [f])
    assert counts(workspace) == (0, 0, 0, 0, 0)


def test_cli_import_search_stats(tmp_path, demo_data):
    import json

    ws = tmp_path / "ws"
    runner = CliRunner()
    runner.invoke(main, ["init", str(ws), "--source", "en", "--target", "cy"])
    shutil.copytree(demo_data / "cy/dictd", tmp_path / "dictd")
    files = [str(tmp_path / "dictd/freedict-cym-eng.index"), str(tmp_path / "dictd/freedict-eng-cym.index")]
    result = runner.invoke(main, ["-w", str(ws), "dict", "import", *files])
    assert result.exit_code == 0, result.output
    stats = json.loads(runner.invoke(main, ["-w", str(ws), "dict", "stats", "--json"]).output)
    assert stats["entries"] >= 12_000 and stats["dictionaries"] == 2
    assert [d["direction"] for d in stats["per_dictionary"]] == ["cy-en", "en-cy"]
    found = runner.invoke(main, ["-w", str(ws), "dict", "search", "cath"])
    assert found.exit_code == 0 and "cath <n, s, f> (cy) → cat (en)" in found.output
    nothing = runner.invoke(main, ["-w", str(ws), "dict", "search", "qqqxyz"])
    assert nothing.exit_code == 1 and "no entries" in nothing.output
    os.remove(tmp_path / "dictd/freedict-cym-eng.dict.dz")  # already imported: the sha256 needs the data
    again = runner.invoke(main, ["-w", str(ws), "dict", "import", files[1]])
    assert again.exit_code == 0 and "already imported" in again.output


def test_cli_skip_bad_and_workspace_after_the_verb(tmp_path):
    ws = tmp_path / "ws"
    runner = CliRunner()
    runner.invoke(main, ["init", str(ws), "--source", "en", "--target", "cy"])
    rejects = tmp_path / "rejects.txt"
    result = runner.invoke(main, ["dict", "import", str(HERE / "broken_middle.tsv"), "-w", str(ws),
                                  "--skip-bad", str(rejects)])
    assert result.exit_code == 0, result.output
    assert "19 entries en→cy [tsv]; 1 rejected" in result.output
    assert rejects.read_text(encoding="utf-8").startswith(f"{HERE / 'broken_middle.tsv'}:10: expected")
