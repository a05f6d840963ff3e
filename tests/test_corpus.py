"""Parallel and monolingual text: import, a seeded split that never leaks, and the readers stages use."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli import main
from kit.corpus import assign_splits, import_corpus, parallel_pairs, target_texts
from kit.errors import InputFormatError, TaalkitError
from kit.progress import CancelToken, Cancelled

HERE = Path(__file__).parent / "data"


def test_welsh_training_pairs_import_with_five_percent_held_out(workspace, demo_data):
    events = []
    r = import_corpus(workspace, demo_data / "cy/train_en_cy.tsv", progress=events.append)
    assert (r.segments, r.train + r.heldout, r.heldout) == (15349, 15349, 767)
    pairs = parallel_pairs(workspace)
    assert len(pairs) == r.train
    assert pairs[0] == ("Disable notifications from %S", "Analluogi hysbysiadau o %S")
    held = parallel_pairs(workspace, split="heldout")
    assert not set(held) & set(pairs)
    assert target_texts(workspace) == [t for _, t in pairs]
    assert events[-1].done == events[-1].total == 15349


def test_split_is_fixed_by_seed_and_changes_with_it(workspace, demo_data, tmp_path):
    import_corpus(workspace, demo_data / "cy/test_en_cy.tsv", seed=0)
    first = parallel_pairs(workspace, split="heldout")
    texts = [(f"s{i}", f"t{i}") for i in range(1000)]
    assert assign_splits(texts, 0.1, 0) == assign_splits(texts, 0.1, 0)
    assert assign_splits(texts, 0.1, 0) != assign_splits(texts, 0.1, 1)
    assert assign_splits(texts, 0.1, 0).count("heldout") == 100
    # the split depends on the text, not the line order
    shuffled = list(reversed(texts))
    assert sorted(t for t, s in zip(shuffled, assign_splits(shuffled, 0.1, 0)) if s == "heldout") == \
        sorted(t for t, s in zip(texts, assign_splits(texts, 0.1, 0)) if s == "heldout")
    assert len(first) == 25


def test_columns_pick_frisian_from_three_column_file(workspace, demo_data):
    r = import_corpus(workspace, demo_data / "fy/train_en_fy_nl.tsv", columns=(0, 1), heldout_fraction=0)
    assert r.heldout == 0
    assert parallel_pairs(workspace)[1] == ("Notification settings", "Notifikaasje-ynstellingen")


def test_mono_text_and_mixed_readers(workspace, demo_data, tmp_path):
    mono = tmp_path / "mono.txt"
    mono.write_text("Bore da.\n\nSut mae?\nBore da.\n", encoding="utf-8")
    r = import_corpus(workspace, mono, "mono", heldout_fraction=0)
    assert (r.segments, r.duplicates) == (2, 1)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("Hello\tHelo\n", encoding="utf-8")
    import_corpus(workspace, pairs, heldout_fraction=0)
    assert target_texts(workspace) == ["Bore da.", "Sut mae?", "Helo"]
    assert parallel_pairs(workspace) == [("Hello", "Helo")]


def test_reimport_is_idempotent(workspace, demo_data):
    first = import_corpus(workspace, demo_data / "cy/test_en_cy.tsv")
    again = import_corpus(workspace, demo_data / "cy/test_en_cy.tsv")
    assert again.already_imported and (again.train, again.heldout) == (first.train, first.heldout)
    assert workspace.db.execute("select count(*) from segments").fetchone()[0] == 500


def test_broken_line_names_it_and_imports_nothing(workspace, tmp_path):
    f = tmp_path / "pairs.tsv"
    f.write_text("one\tun\ntwo\tdau\nthree tri\nfour\tpedwar\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"pairs.tsv:3: expected 2 columns like the first line, found 1 column"):
        import_corpus(workspace, f)
    assert workspace.db.execute("select count(*) from corpora").fetchone()[0] == 0
    rejects = []
    r = import_corpus(workspace, f, rejects=rejects, heldout_fraction=0)
    assert r.segments == 3 and [x.line for x in rejects] == [3]


def test_cancel_stops_cleanly(workspace, demo_data):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        import_corpus(workspace, demo_data / "cy/train_en_cy.tsv", cancel=token)
    assert workspace.db.execute("select count(*) from segments").fetchone()[0] == 0


def test_bad_arguments(workspace, demo_data):
    with pytest.raises(TaalkitError, match="kind must be one of"):
        import_corpus(workspace, demo_data / "cy/test_en_cy.tsv", kind="dictionary")
    with pytest.raises(TaalkitError, match="split must be one of"):
        target_texts(workspace, split="test")


def test_cli_corpus_import(tmp_path, demo_data):
    ws = tmp_path / "ws"
    runner = CliRunner()
    runner.invoke(main, ["init", str(ws), "--source", "en", "--target", "fy"])
    result = runner.invoke(main, ["-w", str(ws), "corpus", "import", str(demo_data / "fy/test_en_fy.tsv"),
                                  "--kind", "parallel", "--columns", "1,2"])
    assert result.exit_code == 0, result.output
    assert "500 parallel segments (475 train / 25 held-out)" in result.output
    bad = runner.invoke(main, ["-w", str(ws), "corpus", "import", str(HERE / "latin1.tsv")])
    assert bad.exit_code == 2 and "expected UTF-8 text" in bad.output
