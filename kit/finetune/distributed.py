"""One fine-tuning run on several processes: data parallel (DDP) or sharded (FSDP), through accelerate.

Why accelerate and not our own launcher: process groups (gloo on CPU, nccl on CUDA), device
placement per rank, DDP/FSDP wrapping and the launcher (``accelerate launch``, which runs
torch's elastic agent) are what it does; the kit only decides *who does what*:

- every rank trains on its slice of the same global batch: ``--batch-size`` stays the global
  batch, each of N ranks takes ``batch/N`` rows of it, gradients are averaged, so N processes
  take the same steps as one (up to the order of float additions);
- rank 0 alone writes the workspace: the ``runs``/``run_metrics`` rows, checkpoints, progress,
  the final model. Other ranks only train;
- rank 0 decides, and tells the others once per step, whether to stop (budget spent, Ctrl-C)
  and whether to checkpoint now, so no rank waits on a collective that another skipped;
- a resume loads the same checkpoint folder on every rank (rank 0 picks it and says which).

``--fsdp`` (FSDP2, torch's ``fully_shard``): each rank holds 1/N of every weight, gradient and
AdamW moment. accelerate still launches the ranks and owns the process group, but the sharding is
applied here with torch's own call: accelerate (1.15, 1.16) turns its FSDP plugin on only for GPU-type
process groups (on a CPU group it silently falls back to DDP), and one code path for CPU and CUDA
is what lets a CPU test cover the GPU run. A sharded model's forward gathers each layer from every
rank, so with FSDP all ranks evaluate together (rank 0 still writes the numbers); checkpoints are
full state dicts gathered onto rank 0 (:meth:`Group.full`) in the very format of a one-process
run, and each rank takes its shard back on resume (:meth:`Group.shard`), so a checkpoint resumes on
any number of processes.

``Solo`` is the same interface for one process without any process group, so the loop has one
code path. ``taalkit finetune --processes N`` starts ``accelerate launch`` itself (see
:func:`launch_command`); under a user's own ``accelerate launch -m kit.cli finetune ...`` the
same worker code runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from ..errors import TaalkitError

ENV_STATUS = "TAALKIT_DIST_STATUS"  # file rank 0 writes how the run ended into (read by the parent CLI)
ENV_CANCEL = "TAALKIT_DIST_CANCEL"  # file the parent CLI creates on Ctrl-C; rank 0 looks for it each step
INSTALL_HINT = "pip install 'taalkit[train]' (or: pip install accelerate)"


def world_size() -> int:
    """Processes of this run as set by the launcher (torchrun / accelerate launch), 1 when none."""
    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return 1


def local_world_size() -> int:
    value = os.environ.get("LOCAL_WORLD_SIZE")
    return int(value) if value and value.isdigit() else world_size()


def require_accelerate() -> None:
    try:
        import accelerate  # noqa: F401
    except ImportError:
        raise TaalkitError(f"training on several processes needs Hugging Face accelerate; {INSTALL_HINT}")


def require_cuda_devices(processes: int) -> int:
    """CUDA devices for ``processes`` ranks, or a refusal that says what is missing."""
    import torch

    if not torch.cuda.is_available():
        raise TaalkitError("--device cuda asked for, but torch sees no CUDA GPU (this torch is "
                           f"{torch.__version__}); install a CUDA build of torch "
                           "(https://pytorch.org/get-started/locally/) or use --device cpu")
    count = torch.cuda.device_count()
    if processes > count:
        raise TaalkitError(f"--processes {processes} on CUDA needs {processes} GPUs, torch sees {count}; "
                           f"use --processes {count}")
    return count


class Solo:
    """One process, no process group: every operation is the trivial one."""

    rank = 0
    world = 1
    local_world = 1
    is_main = True
    fsdp = False
    device = None  # the loop uses its configured device

    def share(self, value: Any) -> Any:
        return value

    def decide(self, *flags: bool) -> tuple[bool, ...]:
        return tuple(bool(f) for f in flags)

    def all_ok(self, error: Optional[str]) -> None:
        if error:
            raise TaalkitError(error)

    def mean(self, value: float) -> float:
        return value

    def wrap(self, model, optimizer_factory):
        return model, optimizer_factory(model)

    def full(self, tensor):
        """The whole of a parameter or optimizer tensor (a collective under FSDP: every rank calls it)."""
        return tensor

    def shard(self, full, like):
        """This rank's part of ``full``, placed like the (possibly sharded) tensor ``like``."""
        return full

    def backward(self, loss) -> None:
        loss.backward()

    def clip(self, model, params, max_norm: float) -> None:
        import torch

        torch.nn.utils.clip_grad_norm_(params, max_norm)

    def rng_states(self) -> list:
        return []

    def barrier(self) -> None:
        pass

    def cancel_requested(self) -> bool:
        return False

    def close(self, together: bool = True) -> None:
        pass


class Group(Solo):
    """This process's place in a launched run (WORLD_SIZE > 1), with accelerate's Accelerator."""

    def __init__(self, device: str, fsdp: bool = False) -> None:
        require_accelerate()
        from datetime import timedelta

        from accelerate import Accelerator
        from accelerate.utils import InitProcessGroupKwargs

        cpu = not device.startswith("cuda")
        if device.startswith("cuda"):
            require_cuda_devices(local_world_size())
        # A rank that died is noticed by torch's elastic agent, which stops the others; the timeout
        # only bounds a rank that hangs without dying (model loading on a slow disk fits well inside).
        self.acc = Accelerator(cpu=cpu, mixed_precision="no",
                               kwargs_handlers=[InitProcessGroupKwargs(timeout=timedelta(minutes=20))])
        self.rank = self.acc.process_index
        self.world = self.acc.num_processes
        self.local_world = local_world_size()
        self.is_main = self.acc.is_main_process
        self.fsdp = bool(fsdp)
        self.device = self.acc.device
        self._cancel_file = os.environ.get(ENV_CANCEL)

    def share(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (any JSON-like object)."""
        from accelerate.utils import broadcast_object_list

        box = [value if self.is_main else None]
        broadcast_object_list(box, from_process=0)
        return box[0]

    def decide(self, *flags: bool) -> tuple[bool, ...]:
        """Rank 0's flags on every rank: one small broadcast per call."""
        import torch
        import torch.distributed as dist

        t = torch.tensor([1 if f else 0 for f in flags], dtype=torch.int32, device=self.device)
        dist.broadcast(t, src=0)
        return tuple(bool(v) for v in t.tolist())

    def all_ok(self, error: Optional[str]) -> None:
        """Every rank says whether its own checks passed; if one failed, all raise its message."""
        from accelerate.utils import gather_object

        errors = [e for e in gather_object([error or ""]) if e]
        if errors:
            raise TaalkitError(errors[0])

    def mean(self, value: float) -> float:
        import torch
        import torch.distributed as dist

        t = torch.tensor([float(value)], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def wrap(self, model, optimizer_factory):
        """DDP around the model (the optimizer over its own parameters), or FSDP2 sharding in place
        (the optimizer over the shards)."""
        if self.fsdp:
            shard_model(model, self.device, self.world)
            return model, optimizer_factory(model)
        wrapped = self.acc.prepare_model(model)
        return wrapped, optimizer_factory(model)

    def full(self, tensor):
        from torch.distributed.tensor import DTensor

        return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor

    def shard(self, full, like):
        from torch.distributed.tensor import DTensor, distribute_tensor

        if not isinstance(like, DTensor):
            return full
        # Every rank read the same full tensor from the checkpoint: each keeps its own part, no traffic.
        return distribute_tensor(full.to(device=like.device, dtype=like.dtype), like.device_mesh, like.placements,
                                 src_data_rank=None)

    def backward(self, loss) -> None:
        self.acc.backward(loss)

    def clip(self, model, params, max_norm: float) -> None:
        # Gradients are already averaged over the ranks, so the norm (and the clip) is the global one.
        self.acc.clip_grad_norm_(model.parameters() if self.fsdp else params, max_norm)

    def rng_states(self) -> list:
        """Every rank's torch RNG state, on rank 0 (dropout masks differ per rank)."""
        import torch
        from accelerate.utils import gather_object

        state = torch.get_rng_state().tolist()
        return gather_object([state])

    def barrier(self) -> None:
        self.acc.wait_for_everyone()

    def cancel_requested(self) -> bool:
        return bool(self._cancel_file) and Path(self._cancel_file).exists()

    def close(self, together: bool = True) -> None:
        """Leave together: a rank that exits while another still talks to it makes gloo abort
        the other ("terminate called ...") and the launcher print its failure report."""
        import torch.distributed as dist

        try:
            if dist.is_initialized():
                if together:
                    self.acc.wait_for_everyone()
                dist.destroy_process_group()
        except Exception:  # a rank already died: the launcher is stopping everyone anyway
            pass


def shard_model(model, device, world: int) -> None:
    """FSDP2 in place: every transformer block is its own unit (gathered for its forward and
    backward, freed after), the rest (embeddings, final norm, head; tied or not) one root unit.
    The blocks are the classes the model itself declares unsplittable (``_no_split_modules``)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(device.type, (world,))
    blocks = set()
    for module in model.modules():
        blocks.update(getattr(module, "_no_split_modules", None) or ())
    units = [m for m in model.modules() if type(m).__name__ in blocks]
    if not units:
        err = TaalkitError(f"--fsdp needs a model that names its transformer blocks; "
                           f"{type(model).__name__} does not: train without --fsdp")
        err.all_ranks = True  # every rank holds the same model and stops here
        raise err
    for module in units:
        fully_shard(module, mesh=mesh, reshard_after_forward=True)
    fully_shard(model, mesh=mesh)


def current(device: str, fsdp: bool = False) -> Solo:
    """The group of this process: a :class:`Group` under a launcher, else :class:`Solo`."""
    if world_size() > 1:
        return Group(device, fsdp=fsdp)
    if fsdp:
        raise TaalkitError("--fsdp shards the model over several processes; add --processes N (N ≥ 2)")
    return Solo()


def launch_command(processes: int, worker_args: list[str], *, port: int) -> list[str]:
    """``accelerate launch`` running ``python -m kit.cli <worker_args>`` on ``processes`` ranks.

    ``--multi_gpu`` is accelerate's multi-process mode on one machine: it starts torch's elastic
    agent, which gives every rank its RANK/WORLD_SIZE; on a machine without CUDA the ranks use gloo
    on the CPU (accelerate's MULTI_CPU), with CUDA nccl, one GPU each.
    """
    import sys

    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
            "--num_processes", str(processes), "--num_machines", "1", "--machine_rank", "0",
            "--main_process_ip", "127.0.0.1", "--main_process_port", str(port),
            "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "kit.cli", *worker_args]


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_status(status: dict) -> None:
    """Rank 0 tells the parent CLI how the run ended (atomically: the parent may read any time)."""
    import json

    path = os.environ.get(ENV_STATUS)
    if not path:
        return
    from ..fsutil import atomic_path

    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(status), encoding="utf-8")


def launched_by_parent() -> bool:
    return bool(os.environ.get(ENV_STATUS))
