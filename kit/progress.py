"""One small event type for all long work.

A stage takes ``progress: ProgressCallback | None`` and calls it with
:class:`Progress` events; the CLI renders them as a bar, the TUI as a ProgressBar
and plot, tests collect them into a list. Cancellation is a :class:`CancelToken`
the stage checks between units of work, so a stop always lands on a clean boundary.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .errors import Cancelled


@dataclass(frozen=True)
class Progress:
    stage: str
    done: float
    total: Optional[float] = None
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> Optional[float]:
        if not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))


ProgressCallback = Callable[[Progress], None]


def emit(callback: Optional[ProgressCallback], stage: str, done: float, total: Optional[float] = None,
         message: str = "", **metrics: Any) -> None:
    """Send a progress event if anyone listens."""
    if callback is not None:
        callback(Progress(stage, done, total, message, metrics))


class CancelToken:
    """A thread-safe stop flag. ``check()`` raises :class:`Cancelled` once set."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("stopped by the user")


# -- streaming events between processes -----------------------------------------------------
#: Marks a JSON line as a taalkit progress event (a child's other output is ignored).
EVENT_KIND = "taalkit.progress"


def to_json_line(event: Progress) -> str:
    """One :class:`Progress` as one JSON line (``kit.jobs`` reads these from a child process).

    Metric values that JSON cannot hold (numpy scalars, paths) are written as floats or text,
    so a stage never fails because of how it reports.
    """
    import json

    def plain(value: Any) -> Any:
        try:
            return float(value)
        except (TypeError, ValueError):
            return str(value)

    payload = {"kind": EVENT_KIND, "stage": event.stage, "done": event.done, "total": event.total,
               "message": event.message, "metrics": event.metrics}
    return json.dumps(payload, ensure_ascii=False, default=plain)


def _payload(line: str, kind: str) -> Optional[dict]:
    """The JSON object on ``line`` when it is marked ``kind``, else None (any other output line)."""
    import json

    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        payload = json.loads(line)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) and payload.get("kind") == kind else None


def from_json_line(line: str) -> Optional[Progress]:
    """The :class:`Progress` a line written by :func:`to_json_line` holds, or None for any other line."""
    payload = _payload(line, EVENT_KIND)
    if payload is None:
        return None
    return Progress(str(payload.get("stage", "")), float(payload.get("done") or 0), payload.get("total"),
                    str(payload.get("message") or ""), dict(payload.get("metrics") or {}))


#: Marks a JSON line as the one-line error a child process stopped with.
ERROR_KIND = "taalkit.error"


def error_to_json_line(error: BaseException) -> str:
    """A :class:`~kit.errors.TaalkitError` as one JSON line: its class name, message and next step."""
    import json

    return json.dumps({"kind": ERROR_KIND, "class": type(error).__name__, "message": str(error),
                       "next_step": getattr(error, "next_step", None)}, ensure_ascii=False)


def error_from_json_line(line: str) -> Optional[tuple[str, str, Optional[str]]]:
    """(class name, message, next step id or None) from a line :func:`error_to_json_line` wrote, else None."""
    payload = _payload(line, ERROR_KIND)
    if payload is None:
        return None
    step = payload.get("next_step")
    return (str(payload.get("class") or "TaalkitError"), str(payload.get("message") or ""),
            str(step) if step else None)
