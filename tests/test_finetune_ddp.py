"""`taalkit finetune --processes 2`: real ranks (accelerate launch, gloo on CPU) train like one process.

Every test here starts real processes: the CLI, accelerate's launcher, torch's elastic agent and
two ranks that talk over gloo. The tiny Llama keeps each run to seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from kit.cli import main
from kit.finetune import finetune
from kit.workspace import Workspace

from test_finetune_cli import wait_for_checkpoint
from test_finetune_data import finetune_workspace

pytest.importorskip("accelerate")

STEPS = 60
OPTIONS = dict(steps=STEPS, stage="full", batch_size=4, seq_len=32, checkpoint_every=5, eval_every=20)
ARGS = ["--steps", str(STEPS), "--stage", "full", "--batch-size", "4", "--seq-len", "32",
        "--checkpoint-every", "5", "--eval-every", "20"]


def _cli(ws_root, *args):
    # PYTHONFAULTHANDLER: a rank that dies of a signal (not a Python error) still prints where it was.
    env = dict(os.environ, TAALKIT_THREADS="1", PYTHONUNBUFFERED="1", OMP_WAIT_POLICY="PASSIVE",
               PYTHONFAULTHANDLER="1")
    return subprocess.Popen([sys.executable, "-m", "kit.cli", "-w", str(ws_root), "finetune", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _weights(ws):
    return load_file(str(ws.model_dir(ws.latest_model("finetuned")) / "model.safetensors"))


def _train_rows(ws, run_id=1):
    return [tuple(r) for r in ws.db.execute(
        "select step, count(*) from run_metrics where run_id = ? and split = 'train' group by step order by step",
        [run_id])]


def one_process_run(tmp_path_factory, tiny_llama_dir, options: dict):
    """The reference every multi-rank test compares with: the same run in this one process, on one
    thread, in a fresh workspace (returned)."""
    os.environ["TAALKIT_THREADS"] = "1"
    try:
        ws = finetune_workspace(Workspace.init(tmp_path_factory.mktemp("one") / "ws", source="en", target="cy"),
                                tiny_llama_dir)
        finetune(ws, **options)
    finally:
        del os.environ["TAALKIT_THREADS"]
    return ws


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, tiny_llama_dir):
    """The reference: the same run in one process (this one), global batch 4."""
    ws = one_process_run(tmp_path_factory, tiny_llama_dir, OPTIONS)
    losses = [r[0] for r in ws.db.execute(
        "select loss from run_metrics where split = 'train' order by step")]
    return _weights(ws), losses


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:  # gradients averaged over ranks: equal up to the order of float additions
        torch.testing.assert_close(b[name], a[name], rtol=0, atol=1e-5, msg=name)


def test_two_ranks_take_the_steps_of_one_process_and_rank0_writes_once(tmp_path, tiny_llama_dir, one_process):
    ws = finetune_workspace(Workspace.init(tmp_path / "ws", source="en", target="cy"), tiny_llama_dir)
    proc = _cli(ws.root, *ARGS, "--processes", "2")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert out.count("saved finetuned-1") == 1  # one rank reports
    assert _train_rows(ws) == [(s, 1) for s in range(1, STEPS + 1)]  # one row per step, none twice
    assert [r[0] for r in ws.db.execute("select step from run_metrics where split = 'heldout' order by step")] \
        == [0, 20, 40, 60]
    assert ws.db.execute("select count(*) from runs").fetchone()[0] == 1
    run = ws.db["runs"].get(1)
    assert run["status"] == "finished"
    import json

    assert json.loads(run["config"])["extra"]["processes"] == 2
    weights, losses = one_process
    _assert_same_weights(weights, _weights(ws))
    # The logged loss is the global batch's (averaged over the ranks), as with one process.
    two = [r[0] for r in ws.db.execute("select loss from run_metrics where split = 'train' order by step")]
    assert two == pytest.approx(losses, abs=1e-5)


def _ranks(launcher_pid, timeout=60):
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {}
        for child in psutil.Process(launcher_pid).children(recursive=True):
            try:
                cmd = child.cmdline()
                rank = child.environ().get("RANK")
                if "kit.cli" in cmd and "accelerate.commands.launch" not in cmd and rank is not None:
                    found[int(rank)] = child.pid  # a rank (torchrun starts it as python -u -m kit.cli)
            except (psutil.Error, ValueError):
                continue
        if len(found) == 2:
            return found
        time.sleep(0.05)
    raise AssertionError("the two ranks did not appear")


def test_kill_9_of_one_rank_then_resume_ends_like_one_uninterrupted_process(tmp_path, tiny_llama_dir,
                                                                           one_process):
    ws = finetune_workspace(Workspace.init(tmp_path / "ws", source="en", target="cy"), tiny_llama_dir)
    proc = _cli(ws.root, *ARGS, "--processes", "2")
    ranks = _ranks(proc.pid)
    wait_for_checkpoint(proc, ws.runs_dir / "1", at_least=10)
    os.kill(ranks[1], signal.SIGKILL)  # not rank 0: the one that writes survives until the agent stops it
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "taalkit finetune --resume --processes 2" in err
    killed_at = max(r["step"] for r in ws.db.query("select step from run_metrics where run_id = 1"))
    assert killed_at < STEPS, "the run ended before the kill; the test needs more steps"
    assert ws.db["runs"].get(1)["status"] in ("running", "failed")

    resumed = _cli(ws.root, "--resume", "--processes", "2")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert ws.db["runs"].get(1)["status"] == "finished"
    assert _train_rows(ws) == [(s, 1) for s in range(1, STEPS + 1)]  # no gap, no duplicate
    _assert_same_weights(one_process[0], _weights(ws))


def test_a_batch_that_does_not_divide_is_one_line_exit_2(tmp_path, tiny_llama_dir):
    ws = finetune_workspace(Workspace.init(tmp_path / "ws", source="en", target="cy"), tiny_llama_dir)
    proc = _cli(ws.root, "--steps", "3", "--batch-size", "3", "--seq-len", "32", "--processes", "2")
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    assert "error: --batch-size 3 is the global batch" in err and "try --batch-size 2" in err
    assert "Traceback" not in err and "ChildFailedError" not in err
    assert ws.db.execute("select count(*) from runs").fetchone()[0] == 0


def test_fsdp_alone_and_cuda_without_a_gpu_are_refused(tmp_path, tiny_llama_dir):
    ws = finetune_workspace(Workspace.init(tmp_path / "ws", source="en", target="cy"), tiny_llama_dir)
    runner = CliRunner()
    result = runner.invoke(main, ["-w", str(ws.root), "finetune", "--steps", "2", "--fsdp"])
    assert result.exit_code == 2 and "add --processes N" in result.output
    if not torch.cuda.is_available():
        result = runner.invoke(main, ["-w", str(ws.root), "finetune", "--steps", "2", "--device", "cuda",
                                      "--processes", "2"])
        assert result.exit_code == 2, result.output
        assert "install a CUDA build of torch" in result.output and "Traceback" not in result.output
