"""Pieces every verb shares: the workspace option, opening it, rendering progress."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import click

from ..progress import Progress


def _store_workspace(ctx: click.Context, _param, value):
    # ``-w`` may come before the verb (taalkit -w WS dict import) or after it (taalkit dict import -w WS).
    if value is not None:
        ctx.ensure_object(dict)
        ctx.obj["workspace"] = value
    return value


workspace_option = click.option(
    "-w", "--workspace", type=click.Path(path_type=Path), default=None, expose_value=True,
    callback=_store_workspace, is_eager=True,
    help="Workspace folder (default: $TAALKIT_WORKSPACE or the per-user data folder).",
)


# The same option for verbs whose function does not take the value: it only records it on the context.
workspace_option_after_verb = click.option(
    "-w", "--workspace", type=click.Path(path_type=Path), default=None, expose_value=False,
    callback=_store_workspace, is_eager=True,
    help="Workspace folder (may also come before the verb).",
)


def _store_events(ctx: click.Context, _param, value):
    if value:
        ctx.ensure_object(dict)
        ctx.obj["events"] = True
    return value


# Global (before the verb): progress as JSON lines on stdout instead of a bar, for kit.jobs, which
# runs a stage in a child process for the app and reads them (kit.progress.to_json_line).
events_option = click.option(
    "--events", is_flag=True, expose_value=False, callback=_store_events, is_eager=True,
    help="Write progress as JSON lines on stdout (how the app follows a stage it runs).",
)


def events_wanted() -> bool:
    """Whether the global ``--events`` option was given to this invocation."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and (ctx.find_root().obj or {}).get("events"))


def workspace_path(ctx: click.Context) -> Path:
    root = ctx.find_root()
    obj = root.obj or {}
    for c in (ctx, *_parents(ctx)):
        if c.obj and c.obj.get("workspace"):
            return Path(c.obj["workspace"])
    if obj.get("workspace"):
        return Path(obj["workspace"])
    from ..workspace import default_workspace_path

    return default_workspace_path()


def _parents(ctx):
    while ctx.parent is not None:
        ctx = ctx.parent
        yield ctx


def open_workspace(ctx: click.Context):
    from ..workspace import Workspace

    ws = Workspace.open(workspace_path(ctx))
    if ws.db.schema_note:  # an upgraded (or not upgradable) older workspace is said, not hidden
        click.echo(f"note: {ws.db.schema_note}", err=True)
    return ws


class ProgressPrinter:
    """Renders :class:`Progress` events on stderr: a redrawn bar on a terminal, sparse lines in a log."""

    def __init__(self, stream=None, min_interval: float = 0.2) -> None:
        self.events = stream is None and events_wanted()
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.min_interval = min_interval if self.tty else 5.0
        self._last = 0.0
        self._stage: Optional[str] = None
        self._started = time.monotonic()

    def __call__(self, event: Progress) -> None:
        if self.events:  # every event, unthrottled: the reader throttles what it draws
            from ..progress import to_json_line

            sys.stdout.write(to_json_line(event) + "\n")
            sys.stdout.flush()
            return
        now = time.monotonic()
        new_stage = event.stage != self._stage
        finished = event.total is not None and event.done >= event.total
        if not (new_stage or finished or now - self._last >= self.min_interval):
            return
        if new_stage:
            if self._stage is not None and self.tty:
                self.stream.write("\n")
            self._stage = event.stage
            self._started = now
        self._last = now
        self.stream.write(("\r\x1b[K" if self.tty else "") + self.format(event, now - self._started)
                          + ("" if self.tty else "\n"))
        if finished and self.tty:
            self.stream.write("\n")
            self._stage = None
        self.stream.flush()

    @staticmethod
    def format(event: Progress, elapsed: float) -> str:
        parts = [f"{event.stage:<14}"]
        frac = event.fraction
        if frac is not None:
            width = 24
            fill = int(frac * width)
            parts.append(f"[{'#' * fill}{'.' * (width - fill)}] {frac * 100:5.1f}%")
            # A stage that knows its own rate (e.g. fine-tuning, which excludes loading and
            # evaluation) reports eta_s; otherwise extrapolate from the elapsed time.
            eta = event.metrics.get("eta_s")
            if eta is None and 0 < frac < 1 and elapsed > 1:
                eta = elapsed * (1 - frac) / frac
            if eta is not None and frac < 1:
                parts.append(f"ETA {int(eta // 60)}:{int(eta % 60):02d}")
        else:
            parts.append(f"{event.done:g}")
        for key, value in event.metrics.items():
            if key == "eta_s":
                continue
            parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
        if event.message:
            parts.append(event.message)
        return "  ".join(parts)


def print_table(rows) -> None:
    """Rows of cells as aligned columns, the first row a header underlined with dashes."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if j == 0:
            click.echo("  ".join("-" * w for w in widths))
