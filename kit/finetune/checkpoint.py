"""Checkpoints that hold *all* training state, written so a kill -9 never leaves a broken one.

A checkpoint is a folder ``runs/<id>/checkpoints/step-0000120/`` with:

- ``trainable.safetensors``  the trainable tensors by name (embeddings/head, LoRA adapter, or all)
- ``optimizer.safetensors``  every tensor of the optimizer state, flattened as ``<param index>.<key>``
- ``rng.safetensors``        torch's CPU (and CUDA) generator states; with several processes also
                             every other rank's CPU state (``torch_cpu_rank<N>``: dropout masks differ)
- ``state.json``             step, config, data position, scheduler, optimizer hyper-parameters and
                             scalars, Python and NumPy RNG states, elapsed training time

The checkpoint is the one source of resume state: ``--resume`` takes the run's settings from its
``config`` (not from the ``runs`` row), including ``base_sha256``, the :func:`weights_digest` of the
model folder the run started from; a resume on weights that have changed since is refused.

No pickle anywhere: safetensors for tensors, JSON for the rest, so a checkpoint can be opened
without executing anything. The folder is written under a temporary name and renamed into place
(``kit.fsutil.atomic_path``), and a new step gets a new folder, so at every instant the newest
complete checkpoint is intact; older ones are removed only after a newer one exists.
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..fsutil import atomic_path

KEEP = 2
_STEP_DIR = re.compile(r"^step-(\d{7,})$")


@dataclass
class Checkpoint:
    path: Path
    step: int
    state: dict
    trainable: dict
    optimizer_tensors: dict
    rng_tensors: dict


def checkpoints_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def optimizer_state(optimizer, full=lambda t: t) -> dict:
    """The optimizer's state dict with every tensor whole and on the CPU.

    ``full`` turns a sharded tensor into the whole one (``Group.full``; under FSDP a collective,
    so every rank calls this, in the same order: by parameter index, then key).
    """
    import torch

    opt = optimizer.state_dict()
    state = {}
    for index in sorted(opt["state"]):
        values = opt["state"][index]
        state[index] = {key: full(value).detach().to("cpu") if torch.is_tensor(value) else value
                        for key, value in sorted(values.items())}
    return {"state": state, "param_groups": opt["param_groups"]}


def save_checkpoint(run_dir: Path, step: int, *, trainable: dict, optimizer, scheduler, data_state: dict,
                    config: dict, extra: Optional[dict] = None, rank_rng: Optional[list] = None) -> Path:
    """Write the checkpoint for ``step`` atomically and prune older ones; returns its folder.

    ``optimizer`` is the optimizer itself or its gathered state (:func:`optimizer_state`).
    """
    import numpy as np
    import torch
    from safetensors.torch import save_file

    opt = optimizer.state_dict() if hasattr(optimizer, "state_dict") else optimizer
    opt_tensors: dict[str, Any] = {}
    opt_scalars: dict[str, dict] = {}
    for index, values in opt["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                opt_tensors[f"{index}.{key}"] = value.detach().to("cpu").contiguous()
            else:
                opt_scalars.setdefault(str(index), {})[key] = value
    rng = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            rng[f"cuda_{i}"] = s
    for r, state in enumerate(rank_rng or (), start=1):  # ranks 1.. of a multi-process run
        rng[f"torch_cpu_rank{r}"] = torch.tensor(state, dtype=torch.uint8)
    np_state = np.random.get_state()
    state = {
        "format": 1,
        "step": int(step),
        "config": config,
        "data": data_state,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "optimizer": {"param_groups": opt["param_groups"], "scalars": opt_scalars},
        "python_rng": _py_state_to_json(random.getstate()),
        "numpy_rng": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "extra": extra or {},
    }
    target = checkpoints_dir(run_dir) / f"step-{int(step):07d}"
    with atomic_path(target) as tmp:
        tmp.mkdir(parents=True)
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in trainable.items()}
        save_file(tensors, str(tmp / "trainable.safetensors"))
        save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
        save_file(rng, str(tmp / "rng.safetensors"))
        (tmp / "state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")
        for f in tmp.iterdir():
            _fsync(f)
    _fsync(target.parent)
    prune(run_dir, keep=KEEP)
    return target


def weights_digest(model_dir: Path) -> str:
    """SHA-256 over the weight files a run starts from (``model*.safetensors``, the shard index, and
    ``config.json``), by name and content.

    Why: frozen weights are not in a checkpoint (they are re-read from the model folder on resume),
    and re-running trans-tokenization rewrites ``models/transtok-*`` in place; a checkpoint records
    this digest so a resume on changed weights is refused instead of silently mixing two models.
    """
    import hashlib

    model_dir = Path(model_dir)
    files = sorted(p for p in model_dir.iterdir() if p.is_file() and (
        (p.name.startswith("model") and (p.name.endswith(".safetensors") or p.name.endswith(".index.json")))
        or p.name == "config.json"))
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode("utf-8") + b"\0")
        with open(p, "rb") as f:
            while block := f.read(1 << 22):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    folder = checkpoints_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _STEP_DIR.match(p.name)
        if m and (p / "state.json").is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def prune(run_dir: Path, keep: int = KEEP) -> None:
    import shutil

    found = list_checkpoints(run_dir)
    for _step, path in found[:-keep] if keep else found:
        shutil.rmtree(path, ignore_errors=True)
    # Leftovers of a save interrupted by kill -9 (temp folders beside the checkpoints).
    folder = checkpoints_dir(run_dir)
    for p in folder.iterdir() if folder.is_dir() else ():
        if p.name.startswith(".step-") and (p.name.endswith(".tmp") or p.name.endswith(".old")):
            shutil.rmtree(p, ignore_errors=True)


def load_latest(run_dir: Path) -> Optional[Checkpoint]:
    found = list_checkpoints(run_dir)
    return load_checkpoint(found[-1][1]) if found else None


def load_checkpoint(path: Path) -> Checkpoint:
    from safetensors.torch import load_file

    path = Path(path)
    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    return Checkpoint(
        path=path, step=int(state["step"]), state=state,
        trainable=load_file(str(path / "trainable.safetensors")),
        optimizer_tensors=load_file(str(path / "optimizer.safetensors")),
        rng_tensors=load_file(str(path / "rng.safetensors")),
    )


def restore_optimizer(optimizer, ckpt: Checkpoint, device, place=None) -> None:
    """Rebuild the optimizer's state dict from the flattened tensors and JSON scalars.

    ``place(index, tensor)`` puts a moment of parameter ``index`` where the parameter is (its
    shard under FSDP); by default it goes to ``device``.
    """
    state: dict[int, dict] = {}
    for name, tensor in ckpt.optimizer_tensors.items():
        index, key = name.split(".", 1)
        # AdamW keeps ``step`` on the CPU unless capturable; every moment lives beside its parameter.
        if key != "step":
            tensor = place(int(index), tensor) if place is not None else tensor.to(device)
        state.setdefault(int(index), {})[key] = tensor
    for index, scalars in ckpt.state["optimizer"]["scalars"].items():
        state.setdefault(int(index), {}).update(scalars)
    optimizer.load_state_dict({"state": state, "param_groups": ckpt.state["optimizer"]["param_groups"]})


def restore_rng(ckpt: Checkpoint, rank: int = 0) -> None:
    """Restore the generators; rank ``rank`` of a multi-process run gets its own CPU state back."""
    import numpy as np
    import torch

    own = ckpt.rng_tensors.get(f"torch_cpu_rank{rank}") if rank else None
    torch.set_rng_state(own if own is not None else ckpt.rng_tensors["torch_cpu"])
    cuda = [ckpt.rng_tensors[k] for k in sorted(ckpt.rng_tensors) if k.startswith("cuda_")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    random.setstate(_py_state_from_json(ckpt.state["python_rng"]))
    name, keys, pos, has_gauss, cached = ckpt.state["numpy_rng"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


def _py_state_to_json(state) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _py_state_from_json(value) -> tuple:
    version, internal, gauss = value
    return (version, tuple(internal), gauss)


def _fsync(path: Path) -> None:
    # Survive a power cut too, not only a killed process: flush file data and the folder entry.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. folders on Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
