"""Resume state lives in the checkpoint (issues 16 and 17): the run's settings, and a digest of the
weights it started from; a resume on weights rewritten in place (trans-tokenized again) is refused."""

from __future__ import annotations

import json
import os

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

from kit.cli import main
from kit.errors import Cancelled
from kit.finetune import finetune
from kit.finetune.checkpoint import list_checkpoints, load_checkpoint, weights_digest
from kit.progress import CancelToken
from kit.workspace import Workspace

from test_finetune_data import finetune_workspace

STEPS = 12
OPTIONS = dict(steps=STEPS, stage="full", batch_size=2, seq_len=32, checkpoint_every=4, eval_every=6)


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("TAALKIT_THREADS", "1")


def _weights(ws):
    return load_file(str(ws.model_dir(ws.latest_model("finetuned")) / "model.safetensors"))


def _stopped_at(ws, step):
    """Start the run and stop it (as Ctrl-C does) once ``step`` is done; a checkpoint is written there."""
    cancel = CancelToken()

    def progress(event):
        if event.stage == "finetune" and event.done and event.done >= step:
            cancel.cancel()

    with pytest.raises(Cancelled):
        finetune(ws, cancel=cancel, progress=progress, **OPTIONS)
    return list_checkpoints(ws.runs_dir / "1")[-1]


def test_resume_takes_its_settings_from_the_checkpoint_not_the_runs_row(tmp_path, tiny_llama_dir):
    reference = finetune_workspace(Workspace.init(tmp_path / "ref", source="en", target="cy"), tiny_llama_dir)
    finetune(reference, **OPTIONS)

    ws = finetune_workspace(Workspace.init(tmp_path / "ws", source="en", target="cy"), tiny_llama_dir)
    step, folder = _stopped_at(ws, 6)
    assert step == 6
    state = load_checkpoint(folder).state
    assert state["config"]["lr"] == json.loads(ws.db["runs"].get(1)["config"])["lr"]
    assert state["config"]["base_sha256"] == weights_digest(ws.models_dir / "source")
    # Another program (or an older taalkit) rewrote the row: the resume must not read it.
    bogus = dict(state["config"], lr=0.5, steps=3, seq_len=16, base_sha256="0" * 64)
    ws.db["runs"].update(1, {"config": json.dumps(bogus)})

    row = finetune(ws, resume=True)
    assert json.loads(row["extra"])["steps"] == STEPS
    want, got = _weights(reference), _weights(ws)
    assert want.keys() == got.keys()
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=0, atol=1e-6, msg=name)


def test_resume_on_weights_rewritten_in_place_is_one_line_exit_2(tmp_path, tiny_llama_dir):
    ws = finetune_workspace(Workspace.init(tmp_path / "ws", source="en", target="cy"), tiny_llama_dir)
    _stopped_at(ws, 4)
    # What a re-run of trans-tokenization does: the same folder, new weights.
    weights = ws.models_dir / "source" / "model.safetensors"
    tensors = load_file(str(weights))
    name = sorted(tensors)[0]
    tensors[name] = tensors[name] + 0.01
    save_file(tensors, str(weights), metadata={"format": "pt"})

    result = CliRunner().invoke(main, ["-w", str(ws.root), "finetune", "--resume"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert "started from models/source, whose weights have changed since" in lines[0]
    assert "start a new run with 'taalkit finetune'" in lines[0]
    assert ws.db["runs"].get(1)["status"] == "stopped"  # refused before touching the run

    # A new run on the new weights is what the message offers, and it works.
    os.environ.pop("TAALKIT_DIST_STATUS", None)
    result = CliRunner().invoke(main, ["-w", str(ws.root), "finetune", "--steps", "2", "--stage", "full",
                                       "--batch-size", "2", "--seq-len", "32"])
    assert result.exit_code == 0, result.output


def test_resume_on_changed_training_text_is_one_line_exit_2(tmp_path, tiny_llama_dir):
    ws = finetune_workspace(Workspace.init(tmp_path / "ws", source="en", target="cy"), tiny_llama_dir)
    _stopped_at(ws, 4)
    cid = ws.db.execute("select id from corpora").fetchone()[0]
    ws.db["segments"].insert({"corpus_id": cid, "kind": "parallel", "source_text": "A new line.",
                              "target_text": "A NEW LINE.", "split": "train", "line": 999})
    result = CliRunner().invoke(main, ["-w", str(ws.root), "finetune", "--resume"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip() and "loading" not in line]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert "training text has changed since its checkpoint" in lines[0]


_DIGEST = """
import sys
sys.path.insert(0, "tests")
from kit.workspace import Workspace
from kit.finetune.data import gather_training_text, pack_blocks
from kit.finetune.loop import data_digest
from transformers import AutoTokenizer
ws = Workspace.open(sys.argv[1])
tok = AutoTokenizer.from_pretrained(sys.argv[2])
text = gather_training_text(ws, tok)
print(data_digest(pack_blocks(tok, text.documents, 32), text.heldout))
"""


def test_every_process_packs_the_same_training_text(tmp_path, tiny_llama_dir):
    """Ranks and resumed runs are separate processes, each with its own string-hash seed: the text
    they train on must not depend on it (a set iterated in hash order once made it differ)."""
    import subprocess
    import sys

    ws = finetune_workspace(Workspace.init(tmp_path / "ws", source="en", target="cy"), tiny_llama_dir)
    ws.close()
    digests = {subprocess.run([sys.executable, "-c", _DIGEST, str(ws.root), str(tiny_llama_dir)],
                              capture_output=True, text=True, check=True,
                              env=dict(os.environ, PYTHONHASHSEED=seed)).stdout.strip()
               for seed in ("1", "2")}
    assert len(digests) == 1, digests
