"""The real ``taalkit finetune`` in a subprocess: kill -9 mid-run, --resume, same end as straight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from kit.cli import main
from kit.finetune import finetune
from kit.finetune.checkpoint import list_checkpoints
from kit.workspace import Workspace

from test_finetune_data import finetune_workspace

STEPS = 120
ARGS = ["--steps", str(STEPS), "--stage", "full", "--batch-size", "4", "--seq-len", "64",
        "--checkpoint-every", "10", "--eval-every", "40"]


def _cli(ws_root, *args):
    env = dict(os.environ, TAALKIT_THREADS="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "kit.cli", "-w", str(ws_root), "finetune", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_checkpoint(proc, run_dir, at_least: int, timeout: float = 300) -> None:
    """Until ``run_dir`` holds a checkpoint at step ``at_least`` or later. A ``taalkit finetune`` that
    ends first fails the test with the whole of what it (and its ranks) printed: a tuple in an assert
    message is cut to its first 240 characters, and a rank's traceback with it."""
    deadline = time.monotonic() + timeout
    while not [s for s, _ in list_checkpoints(run_dir) if s >= at_least]:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"taalkit finetune ended (exit {proc.returncode}) before a checkpoint at step "
                                 f"{at_least}:\n--- stderr ---\n{err}\n--- stdout ---\n{out}")
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)


def test_sigkill_then_resume_ends_like_an_uninterrupted_run(tmp_path, tiny_llama_dir, monkeypatch):
    ws = finetune_workspace(Workspace.init(tmp_path / "killed", source="en", target="cy"), tiny_llama_dir)
    proc = _cli(ws.root, *ARGS)
    wait_for_checkpoint(proc, ws.runs_dir / "1", at_least=20)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert ws.db["runs"].get(1)["status"] == "running"  # killed: nobody could record anything
    killed_at = max(r["step"] for r in ws.db.query("select step from run_metrics where run_id = 1"))
    assert killed_at < STEPS

    resumed = _cli(ws.root, "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "held-out bits per char: step 0" in out

    run = ws.db["runs"].get(1)
    assert run["status"] == "finished" and run["step"] == STEPS
    train_steps = [r["step"] for r in ws.db.query(
        "select step from run_metrics where run_id = 1 and split = 'train' order by step")]
    assert train_steps == list(range(1, STEPS + 1))  # no gap, no duplicate
    heldout_steps = [r["step"] for r in ws.db.query(
        "select step from run_metrics where run_id = 1 and split = 'heldout' order by step")]
    assert heldout_steps == [0, 40, 80, 120]

    # The same settings without interruption, in this process, give the same weights.
    monkeypatch.setenv("TAALKIT_THREADS", "1")
    straight_ws = finetune_workspace(Workspace.init(tmp_path / "straight", source="en", target="cy"),
                                     tiny_llama_dir)
    straight = finetune(straight_ws, steps=STEPS, stage="full", batch_size=4, seq_len=64,
                        checkpoint_every=10, eval_every=40)
    a = load_file(str(straight_ws.model_dir(straight) / "model.safetensors"))
    b = load_file(str(ws.model_dir(ws.latest_model("finetuned")) / "model.safetensors"))
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=0, atol=1e-5, msg=name)


def test_ctrl_c_stops_after_a_step_with_a_resumable_checkpoint(tmp_path, tiny_llama_dir):
    ws = finetune_workspace(Workspace.init(tmp_path / "ws", source="en", target="cy"), tiny_llama_dir)
    proc = _cli(ws.root, *ARGS)
    wait_for_checkpoint(proc, ws.runs_dir / "1", at_least=10)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "taalkit finetune --resume" in err
    run = ws.db["runs"].get(1)
    assert run["status"] == "stopped"
    assert list_checkpoints(ws.runs_dir / "1")[-1][0] == run["step"]  # checkpoint of the last step


def test_bad_options_exit_2_with_one_line(tmp_path, tiny_llama_dir):
    ws = finetune_workspace(Workspace.init(tmp_path / "ws", source="en", target="cy"), tiny_llama_dir)
    runner = CliRunner()
    for args, expected in [
        (["--steps", "3", "--minutes", "1"], "either --minutes or --steps"),
        (["--resume"], "no unfinished fine-tuning run"),
        (["--steps", "3", "--batch-size", "100000", "--seq-len", "256"], "try --batch-size"),
        (["--steps", "3", "--model", "nope"], "no model 'nope'"),
    ]:
        result = runner.invoke(main, ["-w", str(ws.root), "finetune", *args])
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.output
        assert "Traceback" not in result.output
