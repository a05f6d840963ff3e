"""Export: write the adapted model as GGUF, quantize it, and show llama.cpp's verification."""

from __future__ import annotations

import json
from typing import Any, Optional

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label, RadioButton, RadioSet, Static

from kit.fsutil import human_bytes

from ..kit_bridge import kit_function
from ..widgets.progress_panel import ProgressPanel, ThreadProgress
from .base import KitScreen

#: Quantization types llama.cpp offers for small models, with bytes per weight and advice.
QUANTS = (
    ("Q8_0", 8.5 / 8, "near-lossless, safe"),
    ("Q6_K", 6.5625 / 8, "k-quant, smaller"),
    ("Q4_1", 5.0 / 8, "small, still chats"),
    ("Q4_0", 4.5 / 8, "smallest, lower quality"),
    ("F16", 2.0, "unquantized reference"),
)


def expected_size(parameters: Optional[int], bytes_per_weight: float) -> str:
    if not parameters:
        return "size unknown until a model exists"
    return f"≈ {human_bytes(parameters * bytes_per_weight)}"


class ExportScreen(KitScreen):
    SCREEN_TITLE = "Export"
    BINDINGS = [Binding("ctrl+e", "export", "Export", id="export.run")]

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="export-body"):
            with Vertical(id="export-left"):
                yield Label("Quantization", classes="section-title")
                with RadioSet(id="quant"):
                    for i, (name, _bpw, advice) in enumerate(QUANTS):
                        yield RadioButton(f"{name}  {advice}", value=i == 0, id=f"quant-{name}")
                yield Static("", id="export-model", classes="hint")
                yield Button("Export GGUF", variant="primary", id="export")
            with Vertical(id="export-right"):
                yield ProgressPanel(id="export-progress")
                yield Label("Verification", classes="section-title")
                yield Static("Nothing exported yet.", id="verification")
                yield Label("Exports", classes="section-title")
                yield DataTable(id="exports", zebra_stripes=True, cursor_type="row")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#exports", DataTable).add_columns("file", "quant", "size", "verified")

    @property
    def quant(self) -> str:
        pressed = self.query_one("#quant", RadioSet).pressed_index
        return QUANTS[max(pressed, 0)][0]

    def refresh_view(self) -> None:
        ws = self.ws
        model_label = self.query_one("#export-model", Static)
        table = self.query_one("#exports", DataTable)
        table.clear()
        if ws is None:
            model_label.update("")
            return
        row = ws.latest_model()
        if row is None:
            model_label.update("No model yet: adapt one first (F4).")
        else:
            self.show_sizes(row, {})
            self.sizes_worker(row, ws.model_dir(row))
        latest = next(iter(ws.db["exports"].rows_where(order_by="id desc", limit=1)), None)
        if latest is not None:
            self.query_one("#verification", Static).update(
                f"{latest['path']}\n" + _describe_verification(latest.get("verification")))
        for export in ws.db["exports"].rows_where(order_by="id desc", limit=20):
            table.add_row(export["path"], export["quant"], human_bytes(export["size_bytes"] or 0),
                          _verdict(export.get("verification")))

    def show_sizes(self, row: dict, table: dict) -> None:
        """Expected size per offered type: kit.gguf's prediction when known, else bytes per weight."""
        lines = [f"Model: {row['name']} ({row['role']})", "Expected file size:"]
        for name, bpw, _advice in QUANTS:
            info = table.get(name)
            if info:
                warn = " (fallback)" if info.get("warning") else ""
                lines.append(f"  {name:<5} ≈ {human_bytes(info['expected_bytes'])}{warn}")
            else:
                lines.append(f"  {name:<5} {expected_size(row.get('parameters'), bpw)}")
        self.query_one("#export-model", Static).update("\n".join(lines))

    @work(thread=True, exclusive=True, exit_on_error=False, name="size estimate", group="sizes")
    def sizes_worker(self, row: dict, model_dir) -> None:
        # kit.gguf reads the tensor shapes (and imports its libraries): seconds, so off the UI thread.
        try:
            table = {r["quant"]: r for r in kit_function("gguf", "list_quants")(model_dir)}
        except Exception:  # no kit.gguf here or an unreadable folder: the estimate already shown stays
            return
        self.app.call_from_thread(self.show_sizes, row, table)

    @on(Button.Pressed, "#export")
    def _export_pressed(self) -> None:
        self.action_export()

    def action_export(self) -> None:
        if self.require_workspace():
            self.query_one(ProgressPanel).start(f"Exporting GGUF ({self.quant})")
            self.export_worker(self.quant)

    @work(thread=True, exclusive=True, exit_on_error=False, name="export", group="export")
    def export_worker(self, quant: str) -> None:
        export_model = kit_function("gguf", "export_model")
        progress = ThreadProgress(self.app, self.query_one(ProgressPanel).show)
        with self.thread_workspace() as ws:
            row = export_model(ws, quant=quant, progress=progress)
        self.app.call_from_thread(self._exported, row)

    def _exported(self, row: Any) -> None:
        row = row if isinstance(row, dict) else getattr(row, "__dict__", {"path": str(row)})
        self.query_one(ProgressPanel).finish(f"wrote {row.get('path')}")
        self.query_one("#verification", Static).update(_describe_verification(row.get("verification")))
        self.notify("Exported: now chat with it (F6).")
        self.refresh_view()

    def job_failed(self, worker, error) -> None:
        self.query_one(ProgressPanel).stopped(f"not exported: {error}")


def _parse(verification: Any) -> Any:
    if isinstance(verification, str):
        try:
            return json.loads(verification)
        except ValueError:
            return verification
    return verification


def _verdict(verification: Any) -> str:
    v = _parse(verification)
    if isinstance(v, dict):
        ok = v.get("ok", v.get("passed"))
        return "✔ yes" if ok else ("✘ no" if ok is not None else "—")
    return "—" if not v else str(v)[:20]


def _describe_verification(verification: Any) -> str:
    """The verdict, then one short line per check (scalars only; details stay in the database)."""
    v = _parse(verification)
    if not isinstance(v, dict):
        return str(v or "no verification recorded")
    lines = ["passed: llama.cpp agrees with the model" if v.get("ok") else "FAILED: see the checks below"
             if "ok" in v else "recorded"]
    for key, value in v.items():
        if key in ("ok", "passed", "path"):
            continue
        if isinstance(value, dict):
            scalars = [f"{k.replace('_', ' ')} {_short(x)}" for k, x in value.items()
                       if isinstance(x, (int, float, str, bool)) and not isinstance(x, str) or
                       (isinstance(x, str) and len(x) < 30)]
            text = ", ".join(scalars)
        else:
            text = _short(value)
        lines.append(f"{key.replace('_', ' ')}: {text}"[:110])
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
