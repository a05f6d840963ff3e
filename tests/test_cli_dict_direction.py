"""Issue 18, point 1: a TSV dictionary's languages when its name is silent, said and settable.

The real ``taalkit`` verbs in-process on a real workspace (SQLite, the shipped Welsh corpus).
"""

from __future__ import annotations

from click.testing import CliRunner

from kit.cli import main

from conftest import DATA

# Welsh headwords, English translations: the way round a user's words.tsv often is.
CY_EN = "ffenestr\twindow\ncath\tcat\nffeil\tfile\nneges\tmessage\nagor\topen\ncadw\tsave\n" \
        "llyfr\tbook\nbwrdd\ttable\ndrws\tdoor\nheddiw\ttoday\nysgol\tschool\ncyfrinair\tpassword\n"


def _ws(tmp_path):
    runner = CliRunner()
    root = str(tmp_path / "ws")
    assert runner.invoke(main, ["init", root, "--target", "cy"]).exit_code == 0
    pairs = tmp_path / "pairs_en_cy.tsv"
    pairs.write_text("".join(DATA.joinpath("cy/train_en_cy.tsv").read_text(encoding="utf-8")
                             .splitlines(keepends=True)[:400]), encoding="utf-8")
    res = runner.invoke(main, ["-w", root, "corpus", "import", str(pairs)])
    assert res.exit_code == 0, res.output
    return runner, root


def _entry(root, word):
    from kit.workspace import Workspace

    ws = Workspace.open(root)
    try:
        return ws.db.execute("select headword_lang, translation, translation_lang from entries "
                             "where headword = ?", [word]).fetchall()
    finally:
        ws.close()


def test_silent_file_name_is_read_by_content_and_says_why(tmp_path):
    runner, root = _ws(tmp_path)
    words = tmp_path / "words.tsv"
    words.write_text(CY_EN, encoding="utf-8")
    res = runner.invoke(main, ["-w", root, "dict", "import", str(words)])
    assert res.exit_code == 0, res.output
    assert "cy→en" in res.output and "from the content" in res.output
    assert _entry(root, "ffenestr") == [("cy", "window", "en")]  # not window labelled Welsh


def test_file_name_explicit_langs_and_reverse(tmp_path):
    runner, root = _ws(tmp_path)
    named = tmp_path / "cy-en.words.tsv"
    named.write_text(CY_EN, encoding="utf-8")
    res = runner.invoke(main, ["-w", root, "dict", "import", str(named)])
    assert res.exit_code == 0 and "from the file name 'cy-en.words.tsv'" in res.output, res.output

    words = tmp_path / "other.tsv"
    words.write_text("window\tffenestr\ncat\tcath\n", encoding="utf-8")
    res = runner.invoke(main, ["-w", root, "dict", "import", "--from", "en", "--to", "cy", str(words)])
    assert res.exit_code == 0 and "from --from/--to" in res.output, res.output
    assert _entry(root, "window") == [("en", "ffenestr", "cy")]

    # --reverse: headwords from the second column, each side keeping its (right) language.
    res = runner.invoke(main, ["-w", root, "dict", "import", "--reverse", str(named)])
    assert res.exit_code == 0 and "en→cy (after --reverse)" in res.output, res.output
    assert ("en", "ffenestr", "cy") in _entry(root, "window")
    assert ("cy", "window", "en") in _entry(root, "ffenestr")  # the first import is kept beside it

    res = runner.invoke(main, ["-w", root, "dict", "import", "--from", "en", str(words)])
    assert res.exit_code == 2 and "give both --from LANG and --to LANG" in res.output


def test_reimport_with_another_mapping_replaces_only_when_asked(tmp_path):
    runner, root = _ws(tmp_path)
    words = tmp_path / "words.tsv"
    words.write_text(CY_EN, encoding="utf-8")
    assert runner.invoke(main, ["-w", root, "dict", "import", str(words)]).exit_code == 0
    res = runner.invoke(main, ["-w", root, "dict", "import", str(words)])
    assert "(already imported, unchanged)" in res.output  # the same reading: harmless

    res = runner.invoke(main, ["-w", root, "dict", "import", "--from", "en", "--to", "cy", str(words)])
    assert res.exit_code == 2 and "was imported before" in res.output and "--replace" in res.output
    assert _entry(root, "ffenestr") == [("cy", "window", "en")]  # nothing changed

    res = runner.invoke(main, ["-w", root, "dict", "import", "--columns", "target,source", "--replace", str(words)])
    assert res.exit_code == 0 and "replaced the earlier import #1" in res.output, res.output
    assert _entry(root, "window") == [("en", "ffenestr", "cy")]
    assert _entry(root, "ffenestr") == []  # the old reading is gone, not doubled
