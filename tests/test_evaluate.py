"""kit.evaluate and ``taalkit eval``: chrF/chrF++ for every system and direction, stored per model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kit.cli import main
from kit.errors import InputFormatError, TaalkitError
from kit.evaluate import evaluate, past_evaluations, read_test_pairs
from kit.infer.default_model import default_model_gguf

PAIRS = "Open the file\tAgor y ffeil\nSend the message\tAnfon y neges\n"


@pytest.fixture
def ws(workspace, add_dictionary):
    add_dictionary(workspace, [("open", "agor", "en", "cy"), ("file", "ffeil", "en", "cy"),
                               ("send", "anfon", "en", "cy"), ("message", "neges", "en", "cy"),
                               ("agor", "open", "cy", "en"), ("ffeil", "file", "cy", "en"),
                               ("anfon", "send", "cy", "en"), ("neges", "message", "cy", "en")])
    return workspace


@pytest.fixture
def test_tsv(tmp_path):
    path = tmp_path / "test_en_cy.tsv"
    path.write_text(PAIRS, encoding="utf-8")
    return path


def test_word_by_word_scores_both_directions_and_stores_them(ws, test_tsv):
    results = evaluate(ws, test_tsv, systems=("wordbyword",))
    by_dir = {r["direction"]: r for r in results}
    assert set(by_dir) == {"en->cy", "cy->en"}
    # "Agor the ffeil" against "Agor y ffeil": most characters right, not all.
    assert 40 < by_dir["en->cy"]["chrf"] < 100 and 0 < by_dir["en->cy"]["chrf_pp"] < 100
    assert by_dir["en->cy"]["examples"][0] == {"source": "Open the file", "reference": "Agor y ffeil",
                                               "hypothesis": "Agor the ffeil"}
    stored = past_evaluations(ws)
    assert {(r["system"], r["direction"], r["metric"]) for r in stored} == {
        ("wordbyword", d, m) for d in ("en->cy", "cy->en") for m in ("chrF", "chrF++")}
    assert all(r["model"] == "dictionary" and r["test_file"] for r in stored)


def test_translation_memory_system_gives_the_closest_training_pair(ws, test_tsv):
    (skipped,) = evaluate(ws, test_tsv, systems=("memory",), directions=("en->cy",))
    assert "no parallel text" in skipped["skipped"]  # nothing imported yet: said, not crashed
    ws.db["segments"].insert_all([
        {"kind": "parallel", "source_text": "Open the file now", "target_text": "Agor y ffeil nawr", "split": "train"},
        {"kind": "parallel", "source_text": "Send a message", "target_text": "Anfon neges", "split": "train"}])
    results = {r["direction"]: r for r in evaluate(ws, test_tsv, systems=("memory",))}
    assert [e["hypothesis"] for e in results["en->cy"]["examples"]] == ["Agor y ffeil nawr", "Anfon neges"]
    assert [e["hypothesis"] for e in results["cy->en"]["examples"]] == ["Open the file now", "Send a message"]
    assert results["en->cy"]["model"] == "translation memory" and 50 < results["en->cy"]["chrf"] < 100


def test_models_with_and_without_glossary(ws, test_tsv):
    events = []
    results = evaluate(ws, test_tsv, systems=("adapted", "source", "source+glossary"), directions=("en->xx",),
                       limit=1, progress=events.append)
    by_sys = {r["system"]: r for r in results}
    assert "no exported model" in by_sys["adapted"]["skipped"] and by_sys["adapted"]["chrf"] is None
    assert by_sys["source"]["model"].endswith(".gguf") and by_sys["source"]["n"] == 1
    assert by_sys["source"]["glossary_entries"] == 0 and by_sys["source+glossary"]["glossary_entries"] == 2
    for system in ("source", "source+glossary"):
        assert 0 <= by_sys[system]["chrf"] <= 100
    assert events[-1].done == events[-1].total == 3
    rows = {(r["system"], r["metric"]): r for r in past_evaluations(ws)}
    assert rows[("source+glossary", "chrF")]["glossary"] == 1 and rows[("source", "chrF")]["glossary"] == 0
    assert ("adapted", "chrF") not in rows  # a skipped system stores nothing
    details = json.loads(ws.db.execute("select details from evaluations limit 1").fetchone()[0])
    assert details["n"] == 1


def test_current_models_export_is_the_adapted_model(ws, test_tsv):
    (ws.gguf_dir / "cy.gguf").symlink_to(default_model_gguf())
    ws.db["models"].insert({"id": 1, "name": "finetuned-1", "role": "finetuned", "path": "models/x"})
    ws.db["exports"].insert({"model_id": 1, "path": "gguf/cy.gguf", "quant": "Q4_1"})
    (row,) = evaluate(ws, test_tsv, systems=("adapted",), directions=("xx->en",), limit=1)
    assert row["direction"] == "cy->en" and "skipped" not in row and row["chrf"] is not None


def test_bad_test_files(ws, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("Open the file\tAgor y ffeil\nno tab here\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"bad.tsv:2: expected 'source<TAB>target', found 1 column"):
        read_test_pairs(bad)
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match="no test pairs"):
        evaluate(ws, empty)
    with pytest.raises(TaalkitError, match="unknown system"):
        evaluate(ws, bad, systems=("gpt4",))
    assert read_test_pairs(bad, limit=1) == [("Open the file", "Agor y ffeil")]


def test_eval_and_translate_verbs(ws, test_tsv):
    runner = CliRunner()
    result = runner.invoke(main, ["-w", str(ws.root), "eval", "--test", str(test_tsv), "--system", "wordbyword",
                                  "--system", "adapted"])
    assert result.exit_code == 0, result.output
    assert "en->cy chrF" in result.stdout and "wordbyword" in result.stdout and "dictionary" in result.stdout
    assert "no exported model" in result.stdout  # the adapted row says why it is empty

    result = runner.invoke(main, ["-w", str(ws.root), "translate", "--model", str(default_model_gguf()),
                                  "Open the file"])  # one argument, one segment
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
    assert "dictionary: open = agor; file = ffeil" in result.stderr
    assert "similar sentence" not in result.stderr  # no parallel text imported: no memory to show
    ws.db["segments"].insert({"kind": "parallel", "source_text": "Open the file now", "target_text": "Agor y ffeil nawr",
                              "split": "train"})
    result = runner.invoke(main, ["-w", str(ws.root), "translate", "--model", str(default_model_gguf()),
                                  "Open the file"])
    assert result.exit_code == 0, result.output
    assert "similar sentence (" in result.stderr and "alike): Open the file now = Agor y ffeil nawr" in result.stderr

    result = runner.invoke(main, ["-w", str(ws.root), "eval", "--test", str(ws.root / "missing.tsv")])
    assert result.exit_code == 2 and "no such test file" in result.stderr
