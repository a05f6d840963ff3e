"""Checkpoints: all state round-trips, no pickle, and an interrupted save never breaks the last one."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from kit.finetune import checkpoint as ck


def _trained_optimizer(seed=0, make=None):
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 3)
    opt = make(list(model.parameters())) if make else torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1 + s))
    for _ in range(3):
        model(torch.randn(5, 4)).pow(2).mean().backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    return model, opt, sched


def _save(run_dir, step, model, opt, sched):
    return ck.save_checkpoint(run_dir, step, trainable=dict(model.named_parameters()), optimizer=opt,
                              scheduler=sched, data_state={"epoch": 1, "cursor": 7}, config={"lr": 0.01})


def test_everything_round_trips_without_pickle(tmp_path):
    model, opt, sched = _trained_optimizer()
    torch.manual_seed(42)
    random.seed(42)
    np.random.seed(42)
    path = _save(tmp_path, 3, model, opt, sched)
    expected = (torch.rand(3), random.random(), np.random.rand())
    assert sorted(p.name for p in path.iterdir()) == [
        "optimizer.safetensors", "rng.safetensors", "state.json", "trainable.safetensors"]

    loaded = ck.load_latest(tmp_path)
    assert loaded.step == 3 and loaded.state["data"] == {"epoch": 1, "cursor": 7}
    model2, opt2, sched2 = _trained_optimizer(seed=1)
    ck.restore_optimizer(opt2, loaded, "cpu")
    sched2.load_state_dict(loaded.state["scheduler"])
    for a, b in zip(opt.state_dict()["state"].values(), opt2.state_dict()["state"].values()):
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(a[key], b[key])
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert sched2.last_epoch == sched.last_epoch
    for name, p in model.named_parameters():
        assert torch.equal(loaded.trainable[name], p.detach())
    ck.restore_rng(loaded)
    assert torch.equal(torch.rand(3), expected[0])
    assert random.random() == expected[1] and np.random.rand() == expected[2]


def test_the_kits_fused_optimizer_resumes_to_the_same_next_step(tmp_path):
    """The loop's fused AdamW keeps its step count as a tensor beside the parameter: after a
    restore into a fresh optimizer, the next update must equal the one the original makes."""
    from kit.finetune.loop import make_optimizer

    make = lambda params: make_optimizer(params, 1e-2, "cpu")  # noqa: E731
    model, opt, sched = _trained_optimizer(make=make)
    assert opt.param_groups[0]["fused"] is True  # the fast kernel really is in use on CPU
    _save(tmp_path, 3, model, opt, sched)
    loaded = ck.load_latest(tmp_path)
    model2, opt2, _ = _trained_optimizer(seed=1, make=make)
    with torch.no_grad():
        for name, p in model2.named_parameters():
            p.copy_(loaded.trainable[name])
    ck.restore_optimizer(opt2, loaded, "cpu")
    x = torch.randn(5, 4)
    for m, o in ((model, opt), (model2, opt2)):
        m(x).pow(2).mean().backward()
        o.step()
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b)


def test_a_save_that_dies_midway_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    model, opt, sched = _trained_optimizer()
    _save(tmp_path, 10, model, opt, sched)
    import safetensors.torch as st

    calls = {"n": 0}
    real = st.save_file

    def dying_save(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(st, "save_file", dying_save)
    with pytest.raises(OSError):
        _save(tmp_path, 20, model, opt, sched)
    assert ck.load_latest(tmp_path).step == 10
    assert [p.name for p in ck.checkpoints_dir(tmp_path).iterdir()] == ["step-0000010"]


def test_only_the_newest_two_are_kept_and_prune_zero_clears(tmp_path):
    model, opt, sched = _trained_optimizer()
    for step in (5, 10, 15):
        _save(tmp_path, step, model, opt, sched)
    assert [s for s, _ in ck.list_checkpoints(tmp_path)] == [10, 15]
    # A temp folder left by a kill -9 during a save is cleaned up, never loaded.
    (ck.checkpoints_dir(tmp_path) / ".step-0000020.abcd1234.tmp").mkdir()
    assert ck.load_latest(tmp_path).step == 15
    ck.prune(tmp_path, keep=0)
    assert list(ck.checkpoints_dir(tmp_path).iterdir()) == []
