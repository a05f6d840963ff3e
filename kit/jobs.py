"""Run a heavy stage (fine-tune, trans-tokenize, export) in a child process and follow it.

Why a child process: a stage run in a thread of the app's own process competes with the
app for the GIL and for both cores of a small machine; on a 2-core laptop the app took
~18 s to answer F1 while fine-tuning. A child ``python -m kit.cli --events -w WS VERB …``
has its own interpreter, so the app's thread that follows it only waits on a pipe. The
CLI already has every stage, so the child is the very code a user runs by hand.

The child writes its progress as JSON lines on stdout (``kit.progress.to_json_line``);
its stderr goes to ``logs/job-VERB-….log`` in the workspace, whose last ``error:`` line
is the message when it fails. Stopping sends SIGINT: the fine-tune verb checkpoints after
the current step and exits 130 (Resume carries on), the others stop where they are (they
write through atomic renames, so nothing half-written is left). The result is read back
from the workspace's database, which is where every stage records what it made
(:mod:`kit.results`).

``OMP_WAIT_POLICY=PASSIVE``: torch's OpenMP threads otherwise spin between parallel
regions and take the core the app needs to draw. The child also runs at a lower
scheduling priority (``nice`` +5, POSIX) for the same reason: the person at the keyboard
comes first, the training loses a little wall time.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

from . import errors
from .errors import Cancelled, TaalkitError
from .progress import CancelToken, ProgressCallback, error_from_json_line, from_json_line
from .results import ExportResult, FinetuneResult, ModelResult

#: The exit code the fine-tune verb uses for "stopped by the user" (128 + SIGINT).
EXIT_CANCELLED = 130
#: How much lower than the app the child is scheduled (POSIX ``nice``).
CHILD_NICENESS = 5

_live: "weakref.WeakSet[StageJob]" = weakref.WeakSet()


class StageFailed(TaalkitError):
    """The child process ended with an error that was not a :class:`TaalkitError` (a bug)."""


@dataclass(frozen=True)
class JobEnd:
    """How the child process ended."""

    returncode: int
    log_path: Path
    error: Optional[tuple[str, str, Optional[str]]] = None  # (class, message, next step) it reported


class StageJob:
    """One stage in one child process: ``run()`` blocks its (worker) thread until the child ends."""

    def __init__(self, workspace: os.PathLike | str, verb: Sequence[str], *, log_dir: Optional[Path] = None,
                 env: Optional[dict] = None, ok_codes: Sequence[int] = (0,)) -> None:
        #: Exit codes that mean the stage recorded its result (export: 1 = written, checks disagree).
        self.ok_codes = tuple(ok_codes)
        self.workspace = Path(workspace)
        self.verb = [str(v) for v in verb]
        self.log_dir = Path(log_dir) if log_dir else self.workspace / "logs"
        self.extra_env = dict(env or {})
        self.process: Optional[subprocess.Popen] = None
        self._interrupted = False
        self._error: Optional[tuple[str, str, Optional[str]]] = None  # (class, message, next step) from the child

    @property
    def argv(self) -> list[str]:
        return [sys.executable, "-m", "kit.cli", "--events", "-w", str(self.workspace), *self.verb]

    def environment(self) -> dict:
        env = dict(os.environ)
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TRANSFORMERS_OFFLINE", "1")
        env["PYTHONUNBUFFERED"] = "1"
        # The child must import the same kit as this process, wherever it was started from.
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        env.update(self.extra_env)
        return env

    def run(self, progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None,
            poll: float = 0.05) -> JobEnd:
        """Start the child, forward its progress, stop it when ``cancel`` is set; raise on failure.

        Raises :class:`~kit.errors.Cancelled` when stopped, the child's own :class:`TaalkitError`
        class (by name) with its message when it reported one, else :class:`StageFailed`.
        """
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"job-{self.verb[0]}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=log, env=self.environment(), start_new_session=True)
            _live.add(self)
            _lower_priority(self.process.pid)
            reader = threading.Thread(target=self._read, args=(progress,), daemon=True,
                                      name=f"taalkit-job-{self.verb[0]}")
            reader.start()
            while True:
                try:
                    returncode = self.process.wait(timeout=poll)
                    break
                except subprocess.TimeoutExpired:
                    if cancel is not None and cancel.cancelled and not self._interrupted:
                        self.interrupt()
            reader.join(timeout=5)
        crashed = _crashed(log_path)
        end = JobEnd(returncode, log_path, self._error or _last_error(log_path))
        # A stop is a stop only when the child ended the way a stop ends; a crash stays a crash.
        if not crashed and (self._interrupted and returncode != 0 or returncode == EXIT_CANCELLED):
            raise Cancelled("stopped by the user")
        if returncode in self.ok_codes and not crashed and not (returncode and end.error):
            return end
        if end.error is not None:
            raise _make_error(*end.error)
        raise StageFailed(f"the {self.verb[0]} step ended unexpectedly (exit code {returncode}): "
                          f"{_last_line(log_path)}; its log is {log_path}")

    def interrupt(self) -> None:
        """Ask the child to stop at its next safe point (SIGINT, as Ctrl-C in a terminal)."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        self._interrupted = True
        try:
            if os.name == "posix":
                proc.send_signal(signal.SIGINT)
            else:  # pragma: no cover - Windows has no SIGINT for a child: stop it (writes are atomic)
                proc.terminate()
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """End the child now (the app is closing); its newest checkpoint still resumes."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    def _read(self, progress: Optional[ProgressCallback]) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace")
            event = from_json_line(line)
            if event is not None:
                if progress is not None:
                    progress(event)
                continue
            error = error_from_json_line(line)
            if error is not None:
                self._error = error


def _lower_priority(pid: int) -> None:
    try:
        import psutil

        proc = psutil.Process(pid)
        proc.nice(proc.nice() + CHILD_NICENESS if os.name == "posix" else psutil.BELOW_NORMAL_PRIORITY_CLASS)
    except Exception:  # no psutil, or the child already ended: it only runs at the usual priority
        pass


def _last_error(log_path: Path) -> Optional[tuple[str, str, Optional[str]]]:
    """(class name, message, None) of the child's last ``error:`` line (the CLI's one-line error).

    Only when the child wrote no JSON error line (a crash before the CLI's handler): that line is
    already in the CLI's words, so it carries no next step for the app to word again.
    """
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("error: "):
            return "TaalkitError", line[len("error: "):].strip(), None
    return None


def _last_line(log_path: Path) -> str:
    try:
        lines = [l for l in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if l.strip()]
    except OSError:
        return "no log"
    return lines[-1].strip()[:200] if lines else "no output"


def _crashed(log_path: Path) -> bool:
    """Whether the child died of an uncaught exception (a traceback in its log)."""
    try:
        return "Traceback (most recent call last)" in log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _make_error(name: str, message: str, next_step: Optional[str] = None) -> TaalkitError:
    """The child's error again, as its own class when ``kit.errors`` has it, with its next step
    (so the app words what to do in its own way, not the CLI's)."""
    if next_step not in errors.NEXT_STEPS:
        next_step = None
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, TaalkitError):
        try:
            return cls(message, next_step=next_step)
        except TypeError:  # a class with its own arguments (InputFormatError): the message still says it
            pass
    return TaalkitError(message, next_step=next_step)


@atexit.register
def _kill_live_jobs() -> None:
    """A closing app leaves no training behind it."""
    for job in list(_live):
        try:
            job.kill()
        except Exception:
            pass


# -- the stages the app runs this way ------------------------------------------------------
@contextlib.contextmanager
def _workspace(root: os.PathLike | str) -> Iterator:
    """The workspace, opened on the calling thread (SQLite connections belong to one) and closed after."""
    from .workspace import Workspace

    ws = Workspace.open(root)
    try:
        yield ws
    finally:
        ws.close()


def finetune(workspace: os.PathLike | str, *, steps: Optional[int] = None, minutes: Optional[float] = None,
             stage: str = "auto", resume: bool = False, progress: Optional[ProgressCallback] = None,
             cancel: Optional[CancelToken] = None, extra_args: Sequence[str] = (),
             in_process: bool = False) -> FinetuneResult:
    """``taalkit finetune`` in a child process; the finished run as a :class:`FinetuneResult`.

    ``in_process=True`` runs the stage in the calling thread instead: what the app did before,
    kept so ``bench/ui_latency.py`` can measure the difference in one run.
    """
    if in_process:
        from .finetune import finetune as run_stage

        with _workspace(workspace) as ws:
            return FinetuneResult.from_row(run_stage(ws, steps=steps, minutes=minutes, stage=stage,
                                                     resume=resume, progress=progress, cancel=cancel))
    args = ["finetune"]
    if resume:
        args.append("--resume")
    else:
        args += ["--stage", stage]
        if steps is not None:
            args += ["--steps", str(int(steps))]
        elif minutes is not None:
            args += ["--minutes", str(float(minutes))]
    StageJob(workspace, [*args, *extra_args]).run(progress, cancel)
    with _workspace(workspace) as ws:
        result = FinetuneResult.latest(ws)
    if result is None:  # pragma: no cover - the verb exits 0 only after recording the model
        raise StageFailed("fine-tuning ended but recorded no model")
    return result


def transtokenize(workspace: os.PathLike | str, *, method: str = "transtok",
                  progress: Optional[ProgressCallback] = None,
                  cancel: Optional[CancelToken] = None, in_process: bool = False) -> ModelResult:
    """``taalkit transtokenize`` in a child process; the model it recorded."""
    if in_process:
        from .transtok import transtokenize as run_stage

        with _workspace(workspace) as ws:
            return ModelResult.from_row(run_stage(ws, method=method, progress=progress, cancel=cancel))
    StageJob(workspace, ["transtokenize", "--method", method]).run(progress, cancel)
    with _workspace(workspace) as ws:
        result = ModelResult.latest(ws, "transtok")
    if result is None:  # pragma: no cover
        raise StageFailed("trans-tokenization ended but recorded no model")
    return result


def export(workspace: os.PathLike | str, *, quant: str = "Q8_0", progress: Optional[ProgressCallback] = None,
           cancel: Optional[CancelToken] = None, in_process: bool = False) -> ExportResult:
    """``taalkit export`` in a child process; the file it wrote and llama.cpp's verdict.

    The verb exits 1 when the file was written but llama.cpp disagrees with the model: that
    is a result (``verified`` False), not a failure.
    """
    if in_process:
        from .gguf import export_model

        with _workspace(workspace) as ws:
            return ExportResult.from_row(export_model(ws, quant=quant, progress=progress, cancel=cancel))
    StageJob(workspace, ["export", "--quant", quant], ok_codes=(0, 1)).run(progress, cancel)
    with _workspace(workspace) as ws:
        result = ExportResult.latest(ws)
    if result is None:  # pragma: no cover
        raise StageFailed("export ended but recorded no file")
    return result
