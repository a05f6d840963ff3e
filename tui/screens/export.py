"""Export: write the adapted model as GGUF, quantize it, and show llama.cpp's verification.

The export runs in a child process (:mod:`kit.jobs`), so the screen answers keys while it
writes and checks the file, and Escape stops it (the files are written through atomic
renames: a stopped export leaves nothing half-written). Sizes and the verdict are kit's
numbers (``kit.gguf``, :class:`kit.results.ExportResult`); this screen only puts them in words.
"""

from __future__ import annotations

from typing import Optional

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Label, RadioButton, RadioSet, Static

from kit import jobs
from kit.fsutil import human_bytes
from kit.results import ExportResult

from ..widgets.progress_panel import ProgressPanel, ThreadProgress
from .base import KitScreen

#: The types offered here (kit.gguf has more; the CLI offers them all), with advice in plain words.
OFFERED = (
    ("Q8_0", "almost no loss; the safe choice"),
    ("Q6_K", "smaller, still very close"),
    ("Q4_1", "small; still chats"),
    ("Q4_0", "smallest; answers get worse"),
    ("F16", "full size; for comparing"),
)


#: What each kind of model is, in words (kit's ``models.role``).
ROLE_WORDS = {"source": "the base model as added", "transtok": "the base model with your language's vocabulary",
              "finetuned": "fine-tuned on your text"}


def expected_size(parameters: Optional[int], quant: str) -> str:
    """kit's rough size from the parameter count: what is shown before kit has read the shapes."""
    from kit.models.memory import estimate_gguf_bytes

    if not parameters:
        return "size unknown until a model exists"
    return f"≈ {human_bytes(estimate_gguf_bytes(parameters, quant))}"


class ExportScreen(KitScreen):
    SCREEN_TITLE = "Export"
    MODE = "export"
    AUTO_FOCUS = "#quant"
    STOPPING_MESSAGE = "stopping… (nothing half-written is kept)"
    BINDINGS = [Binding("ctrl+e", "export", "Export", id="export.run")]

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="export-body"):
            with VerticalScroll(id="export-left"):
                yield Label("Size of the file (quantization)", classes="section-title")
                with RadioSet(id="quant"):
                    for i, (name, advice) in enumerate(OFFERED):
                        yield RadioButton(f"{name}  {advice}", value=i == 0, id=f"quant-{name}")
                yield Button("Export GGUF (Ctrl+E)", variant="primary", id="export")
                yield Static("", id="export-model", classes="hint")
            with VerticalScroll(id="export-right"):
                yield ProgressPanel(id="export-progress")
                yield Label("Check by llama.cpp", classes="section-title")
                yield Static("Nothing exported yet.", id="verification")
                yield Label("Exports", classes="section-title")
                yield DataTable(id="exports", zebra_stripes=True, cursor_type="row")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#exports", DataTable).add_columns("file", "type", "size", "checked")

    @property
    def quant(self) -> str:
        pressed = self.query_one("#quant", RadioSet).pressed_index
        return OFFERED[max(pressed, 0)][0]

    def workspace_changed(self) -> None:
        super().workspace_changed()
        self.query_one("#verification", Static).update("Nothing exported yet.")

    def refresh_view(self) -> None:
        ws = self.ws
        model_label = self.query_one("#export-model", Static)
        table = self.query_one("#exports", DataTable)
        table.clear()
        verification = self.query_one("#verification", Static)
        if ws is None:
            model_label.update("")
            verification.update("Nothing exported yet.")
            return
        row = ws.latest_model()
        if row is None:
            model_label.update("No model yet: adapt one first (F4).")
        else:
            self.show_sizes(row, {})
            self.sizes_worker(row, ws.model_dir(row))
        exports = ExportResult.recent(ws)
        if exports:
            verification.update(f"{exports[0].path}\n" + describe_verification(exports[0]))
        elif not self.job_running():
            verification.update("Nothing exported yet.")
        for export in exports:
            table.add_row(export.path, export.quant, human_bytes(export.size_bytes), verdict(export))

    def show_sizes(self, row: dict, table: dict) -> None:
        """Expected size per offered type: kit.gguf's prediction when known, else bits per weight."""
        lines = [f"Model: {row['name']} ({ROLE_WORDS.get(row['role'], row['role'])})", "Expected file size:"]
        for name, _advice in OFFERED:
            info = table.get(name)
            if info:
                note = " (some parts stay bigger)" if info.get("warning") else ""
                lines.append(f"  {name:<5} ≈ {human_bytes(info['expected_bytes'])}{note}")
            else:
                lines.append(f"  {name:<5} {expected_size(row.get('parameters'), name)}")
        if any(info.get("warning") for info in table.values()):
            lines.append("Some parts stay bigger: their rows do not divide into this type's blocks, "
                         "so llama.cpp keeps them in a larger type.")
        self.query_one("#export-model", Static).update("\n".join(lines))

    @work(thread=True, exclusive=True, exit_on_error=False, name="size estimate", group="sizes")
    def sizes_worker(self, row: dict, model_dir) -> None:
        # kit.gguf reads the tensor shapes: a second or so, so off the UI thread.
        from kit.gguf import list_quants

        try:
            table = {r["quant"]: r for r in list_quants(model_dir)}
        except Exception:  # an unreadable folder: the estimate already shown stays; Export reports it
            return
        self.app.call_from_thread(self.show_sizes, row, table)

    @on(Button.Pressed, "#export")
    def _export_pressed(self) -> None:
        self.action_export()

    def action_export(self) -> None:
        if not self.require_workspace():
            return
        if any(w.is_running for w in self.workers if w.group == "export"):
            self.notify("An export is still running: wait for it, or stop it (Esc).", severity="warning")
            return
        self.query_one(ProgressPanel).start(f"Exporting GGUF ({self.quant})")
        self.export_worker(self.quant, self.new_cancel_token())

    @work(thread=True, exclusive=True, exit_on_error=False, name="export", group="export")
    def export_worker(self, quant: str, cancel) -> None:
        progress = ThreadProgress(self.app, self.query_one(ProgressPanel).show)
        result = jobs.export(self.app.workspace_root, quant=quant, progress=progress, cancel=cancel,
                             in_process=self.app.stages_in_process)
        self.app.call_from_thread(self._exported, result)

    def _exported(self, result: ExportResult) -> None:
        panel = self.query_one(ProgressPanel)
        if result.verified is False:
            panel.failed(f"wrote {result.path}, but llama.cpp does not agree with the model: see below")
        else:
            panel.finish(f"wrote {result.path} ({human_bytes(result.size_bytes)})")
        self.refresh_view()
        self.notify("Exported: now chat with it (F6)." if result.verified is not False
                    else "Exported, but the check failed: see the report.")

    def job_failed(self, worker, error) -> None:
        from kit.errors import Cancelled

        if worker.group != "export":
            return
        panel = self.query_one(ProgressPanel)
        if isinstance(error, Cancelled):
            panel.stopped("not exported: stopped before the file was finished")
        else:
            panel.failed(f"not exported: {error}")


def verdict(export: ExportResult) -> str:
    return {True: "✔ passed", False: "✘ failed", None: "— not checked"}[export.verified]


def describe_verification(export: ExportResult) -> str:
    """What llama.cpp's checks found, in words; the numbers stay for those who ask."""
    v = export.verification
    if not v or export.verified is None:
        return "Not checked (exported without the llama.cpp checks)."
    lines = ["✔ Passed: llama.cpp reads the file the way the model was trained." if export.verified
             else "✘ Failed: llama.cpp does not read the file the way the model was trained."]
    tok = v.get("tokenization") or {}
    if tok:
        same = "the same" if tok.get("identical") else f"different ({tok.get('mismatches')} texts differ)"
        lines.append(f"• Splits text into {same} pieces as the model's own tokenizer "
                     f"({tok.get('texts')} texts).")
    logits = v.get("logits") or {}
    if logits:
        lines.append(f"• Predicts the same next word as PyTorch for {logits.get('top1_equal')} of "
                     f"{logits.get('prompts')} prompts.")
    ppl = (v.get("perplexity") or {}).get("perplexity")
    ref = ((v.get("reference") or {}).get("perplexity") or {}).get("perplexity")
    if ppl is not None:
        text = f"• Surprise on held-out text (perplexity, lower is better): {ppl:.1f}"
        if ref is not None:
            text += f"; full-size file {ref:.1f}"
        lines.append(text + ".")
    agree = (v.get("divergence") or {}).get("top1_agreement")
    if agree is not None:
        kl = v["divergence"].get("kl_mean")
        lines.append(f"• Picks the same next word as the full-size file {agree * 100:.0f} % of the time"
                     + (f" (mean KL divergence {kl:.3g})." if kl is not None else "."))
    if export.chats is False:
        why = "; ".join(export.chat_problems) or "its answer was not a proper reply"
        lines.append(f"✘ Does not chat properly yet ({why}): the file is right, the model needs more "
                     "fine-tuning (Adapt, F4).")
    elif export.chats:
        lines.append("• Answers a chat message and stops at the end of its turn.")
    if v.get("reply"):
        lines.append(f"• Sample reply: {str(v['reply'])[:70]!r}")
    return "\n".join(lines)
