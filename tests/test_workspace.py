"""The workspace: creation, reopening, migrations, atomic writes, and the CLI's error contract."""

import sqlite3
import subprocess
import sys

import pytest

from kit.errors import WorkspaceError
from kit.fsutil import atomic_path
from kit.progress import CancelToken, Progress
from kit.errors import Cancelled
from kit.workspace import Workspace


def test_init_creates_layout_and_records_languages(tmp_path):
    ws = Workspace.init(tmp_path / "cy", source="en", target="cy")
    assert (ws.root / "taalkit.db").is_file()
    for sub in ("models", "tokenizer", "runs", "gguf", "exports", "logs"):
        assert (ws.root / sub).is_dir()
    assert (ws.source_lang, ws.target_lang) == ("en", "cy")
    assert ws.checklist() == dict.fromkeys(ws.checklist(), False)


def test_reopen_keeps_data_and_applies_no_migration_twice(tmp_path):
    ws = Workspace.init(tmp_path / "cy", source="en", target="cy")
    applied = ws.db.execute("select count(*) from _sqlite_migrations").fetchone()[0]
    ws.close()
    again = Workspace.open(tmp_path / "cy")
    assert again.db.execute("select count(*) from _sqlite_migrations").fetchone()[0] == applied
    assert again.target_lang == "cy"


def test_old_workspace_is_migrated_on_open(tmp_path):
    """A DB made before later migrations existed gains them when opened by this kit."""
    from kit import db as kitdb

    path = tmp_path / "old"
    ws = Workspace.init(path, source="en", target="cy")
    first = kitdb.migrations._migrations[0].name
    ws.db.execute("delete from _sqlite_migrations where name != ?", [first])
    ws.db.conn.commit()
    ws.close()
    reopened = Workspace.open(path)  # must not fail on tables that already exist
    names = [r[0] for r in reopened.db.execute("select name from _sqlite_migrations")]
    assert names[0] == first and len(names) == len(kitdb.migrations._migrations)


def test_open_missing_workspace_says_how_to_create_one(tmp_path):
    with pytest.raises(WorkspaceError, match="is not a taalkit workspace") as caught:
        Workspace.open(tmp_path / "nothing")
    assert caught.value.next_step == "create_workspace"  # kit names no face; each says how in its words
    from kit.cli.next_steps import say

    assert "taalkit init" in say(caught.value)


def test_init_refuses_other_language_pair_and_non_empty_folder(tmp_path):
    Workspace.init(tmp_path / "ws", source="en", target="cy").close()
    with pytest.raises(WorkspaceError, match="already a workspace"):
        Workspace.init(tmp_path / "ws", source="en", target="fy")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="not empty"):
        Workspace.init(tmp_path / "busy", source="en", target="cy")


def test_atomic_path_leaves_nothing_on_failure_and_replaces_on_success(tmp_path):
    target = tmp_path / "out.bin"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_atomic_path_replaces_a_folder_whole(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "a").write_text("1")
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_cancel_token_and_progress_fraction():
    token = CancelToken()
    token.check()
    token.cancel()
    with pytest.raises(Cancelled):
        token.check()
    assert Progress("x", 5, 10).fraction == 0.5
    assert Progress("x", 5).fraction is None


def test_cli_init_then_status_and_error_exit_code(tmp_path):
    exe = [sys.executable, "-m", "kit.cli"]
    ok = subprocess.run(exe + ["init", str(tmp_path / "w"), "--target", "cy"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    st = subprocess.run(exe + ["-w", str(tmp_path / "w"), "status"], capture_output=True, text=True)
    assert st.returncode == 0 and "[ ] dictionary" in st.stdout
    bad = subprocess.run(exe + ["-w", str(tmp_path / "missing"), "status"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("error:") and len(bad.stderr.strip().splitlines()) == 1


def test_tiny_fixtures_are_real_models(tiny_llama_dir, tiny_llama_untied_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, local_files_only=True)
    untied = AutoModelForCausalLM.from_pretrained(tiny_llama_untied_dir, local_files_only=True)
    assert model.config.tie_word_embeddings and not untied.config.tie_word_embeddings
    ids = tok("The cat sat", return_tensors="pt").input_ids
    with torch.no_grad():
        assert model(ids).logits.shape == (1, ids.shape[1], len(tok))
    assert "<|im_start|>" in tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)


def test_progress_printer_prefers_the_stage_eta_and_shows_metrics():
    from kit.cli.common import ProgressPrinter

    line = ProgressPrinter.format(Progress("finetune", 10, 100, "", {"loss": 2.5, "eta_s": 125.0}), elapsed=999)
    assert "ETA 2:05" in line and "loss=2.5" in line and "eta_s" not in line
    guessed = ProgressPrinter.format(Progress("import", 25, 100), elapsed=30)
    assert "ETA 1:30" in guessed and " 25.0%" in guessed


def test_workspace_option_works_after_the_verb_too(tmp_path):
    """`taalkit status -w WS` and `taalkit model list -w WS` read the same workspace as `-w WS status`."""
    exe = [sys.executable, "-m", "kit.cli"]
    ws = str(tmp_path / "w")
    assert subprocess.run(exe + ["init", ws, "--target", "cy"], capture_output=True).returncode == 0
    for verb in (["status"], ["model", "list"], ["tokenizer", "stats", "--help"]):
        run = subprocess.run(exe + verb + ["-w", ws], capture_output=True, text=True)
        assert run.returncode == 0, (verb, run.stderr)
    st = subprocess.run(exe + ["status", "-w", ws], capture_output=True, text=True)
    assert ws in st.stdout


def test_save_by_key_updates_in_place_and_newest_follows_created_at(workspace):
    from kit.db import save_by_key

    db = workspace.db
    first = save_by_key(db, "models", {"name": "transtok-fvt", "role": "transtok", "path": "models/a",
                                       "licence": "mit", "created_at": "2026-01-01T00:00:00+00:00"})
    later = save_by_key(db, "models", {"name": "transtok-mean", "role": "transtok", "path": "models/b",
                                       "created_at": "2026-01-02T00:00:00+00:00"})
    child = db["models"].insert({"name": "finetuned-1", "role": "finetuned", "parent_id": first}).last_pk
    db["exports"].insert({"model_id": first, "path": "gguf/a.gguf"})
    # Remade: same id, new values, columns not given keep theirs; what points at it still joins.
    again = save_by_key(db, "models", {"id": 999, "name": "transtok-fvt", "role": "transtok", "path": "models/a2",
                                       "created_at": "2026-01-03T00:00:00+00:00"})
    assert again == first and again != later
    row = db["models"].get(first)
    assert (row["path"], row["licence"], row["created_at"]) == ("models/a2", "mit", "2026-01-03T00:00:00+00:00")
    assert db.execute("select count(*) from models where name = 'transtok-fvt'").fetchone()[0] == 1
    assert db.execute("select p.name from models c join models p on p.id = c.parent_id where c.id = ?",
                      [child]).fetchone()[0] == "transtok-fvt"
    assert db.execute("select m.path from exports e join models m on m.id = e.model_id").fetchone()[0] == "models/a2"
    # The remade row is the newest although its id is older.
    assert workspace.latest_model("transtok")["name"] == "transtok-fvt"
    # Another key column: one exports row per file.
    e1 = save_by_key(db, "exports", {"model_id": first, "path": "gguf/b.gguf", "quant": "F16"}, key="path")
    e2 = save_by_key(db, "exports", {"model_id": later, "path": "gguf/b.gguf", "quant": "F16"}, key="path")
    assert e1 == e2 and db["exports"].get(e1)["model_id"] == later
