"""Adapt: choose the base model, train a tokenizer, trans-tokenize, then fine-tune.

Fine-tuning has a time budget and shows a progress bar with ETA and a live plot of
training loss and held-out bits per character. Trans-tokenizing and fine-tuning run in
a child process (:mod:`kit.jobs`), so the screen answers keys while they work. Escape
says "stopping" at once and stops the run at the next step boundary; the run keeps its
checkpoint and Resume carries on from there, its plot continuing where it stopped.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from kit.fsutil import human_bytes
from kit.models.source import DEFAULT_MODEL_SHAPE
from kit.progress import CancelToken, Progress

from kit import jobs
from kit.results import ModelResult, RunState

from ..widgets.file_picker import FilePicker
from ..widgets.loss_plot import LossPlot
from ..widgets.progress_panel import ProgressPanel, ThreadProgress
from .base import KitScreen

DEFAULT_MODEL = ("SmolLM2-135M (built in)", "default")
#: SmolLM2-135M's shape (kit.models' one record of it), so its estimate needs no file read.
DEFAULT_SHAPE = DEFAULT_MODEL_SHAPE
DEFAULT_PARAMETERS = DEFAULT_MODEL_SHAPE.parameters
METHODS = [
    ("trans-tokenization", "transtok"),
    ("spelling only (FVT)", "fvt"),
    ("mean (baseline)", "mean"),
    ("random (baseline)", "random"),
]
FINETUNE_STAGES = [("automatic (fits RAM)", "auto"), ("embeddings only", "embeddings"),
                   ("LoRA adapters", "lora"), ("whole model", "full")]


#: The batch and sequence length the RAM estimate assumes (the fine-tune stage's CPU defaults).
ESTIMATE_BATCH, ESTIMATE_SEQ_LEN = 8, 256


def memory_estimate(parameters: int, shape: Any = None) -> str:
    """Parameters, peak RAM to fine-tune the whole model and RAM to chat (Q8_0): kit.models' figures.

    ``shape`` is a :class:`kit.models.shape.ModelShape` (or a row's numbers); without it kit guesses
    the shape from the parameter count.
    """
    from kit.models.memory import estimate_chat_ram

    chat = human_bytes(estimate_chat_ram(parameters))
    try:
        from kit.models import estimate_finetune_ram

        numbers = {} if shape is None else dict(vocab_size=shape.vocab_size, hidden_size=shape.hidden_size,
                                                layers=getattr(shape, "layers", None),
                                                tied=bool(shape.tied) if shape.tied is not None else True)
        train = "fine-tune ≤ " + human_bytes(estimate_finetune_ram(parameters, "full", ESTIMATE_BATCH,
                                                                   ESTIMATE_SEQ_LEN, **numbers)) + " RAM"
    except ImportError:  # the runtime tier: no torch, no fine-tuning here
        train = "fine-tuning needs the training tools (taalkit[train])"
    return f"{parameters / 1e6:.1f} M parameters · {train} · chat ≈ {chat}"


class AdaptScreen(KitScreen):
    SCREEN_TITLE = "Adapt"
    MODE = "adapt"
    STOPPING_MESSAGE = "stopping at the next checkpoint… (the run is kept; Resume carries on)"
    BINDINGS = [
        Binding("ctrl+f", "finetune", "Fine-tune", id="adapt.finetune"),
        Binding("ctrl+r", "resume", "Resume", id="adapt.resume"),
        # Every step has a key (listed in Help, F1); the footer keeps room for the two above.
        Binding("ctrl+o", "add_model", "Add base model", id="adapt.add_model", show=False),
        Binding("ctrl+t", "train_tokenizer", "Train tokenizer", id="adapt.train_tokenizer", show=False),
        Binding("ctrl+g", "transtokenize", "Trans-tokenize", id="adapt.transtokenize", show=False),
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.model_folder: Optional[Path] = None

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="adapt-body"):
            with VerticalScroll(id="adapt-steps"):
                yield Label("1 · Base model", classes="section-title")
                with Horizontal(classes="form-row"):
                    yield Select([DEFAULT_MODEL, ("a model folder…", "folder")], value="default",
                                 allow_blank=False, id="model-choice")
                    yield Button("Add", id="add-model")
                yield Static(memory_estimate(DEFAULT_PARAMETERS, DEFAULT_SHAPE), id="model-estimate", classes="hint")
                yield Label("2 · Tokenizer for your language", classes="section-title")
                with Horizontal(classes="form-row"):
                    yield Label("tokens", classes="field-label")
                    yield Input("8000", id="vocab-size", type="integer", classes="number")
                    yield Button("Train tokenizer", id="train-tokenizer")
                yield Label("3 · Trans-tokenize", classes="section-title")
                with Horizontal(classes="form-row"):
                    yield Select(METHODS, value="transtok", allow_blank=False, id="method")
                    yield Button("Run", id="transtokenize")
                yield Label("4 · Fine-tune", classes="section-title")
                with Horizontal(classes="form-row"):
                    yield Label("minutes", classes="field-label")
                    yield Input("10", id="minutes", type="number", classes="number")
                    yield Label("or steps", classes="field-label")
                    yield Input("", id="steps", type="integer", classes="number", placeholder="—")
                with Horizontal(classes="form-row"):
                    yield Select(FINETUNE_STAGES, value="auto", allow_blank=False, id="ft-stage")
                with Horizontal(classes="form-row"):
                    yield Button("Fine-tune", variant="primary", id="finetune")
                    yield Button("Resume", id="resume")
                    yield Button("Stop (Esc)", variant="error", id="stop")
            with Vertical(id="adapt-live"):
                yield Static("", id="adapt-status", classes="hint")
                yield ProgressPanel(id="adapt-progress")
                yield LossPlot(id="loss-plot")
        yield from self.compose_footer()

    #: The button of each step, in journey order: the screen opens on the first one not done.
    STEP_BUTTONS = (("source model", "#add-model"), ("tokenizer", "#train-tokenizer"),
                    ("trans-tokenized", "#transtokenize"), ("fine-tuned", "#finetune"))

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.ws is not None and not self.adapt_running():
            steps = self.ws.checklist()
            todo = next((button for step, button in self.STEP_BUTTONS if not steps.get(step)), "#finetune")
            self.query_one(todo).focus()
        else:
            self.query_one("#add-model").focus()

    # -- view -------------------------------------------------------------------------
    def refresh_view(self) -> None:
        ws = self.ws
        status = self.query_one("#adapt-status", Static)
        if ws is None:
            status.update("")
            return
        steps = ws.checklist()
        marks = "  ".join(f"{'✔' if steps.get(k) else '·'} {k}"
                          for k in ("source model", "tokenizer", "trans-tokenized", "fine-tuned"))
        status.update(marks)
        self.show_last_run(ws)
        self.show_estimate()

    def show_last_run(self, ws, *, force: bool = False) -> None:
        """Plot the newest fine-tuning run's curve from the database (when no job is drawing)."""
        plot = self.query_one(LossPlot)
        if not force and (plot.loss or self.adapt_running()):
            return
        run = RunState.latest(ws)
        if run is None:
            return
        plot.clear_points()
        for point in run.points(ws):
            plot.add_point(point.step, point.loss, point.bits_per_char, redraw=False)
        plot.replot()
        if run.resumable and not force:
            self.query_one(ProgressPanel).note(
                f"Fine-tuning run {run.id} is {run.status}",
                f"at step {run.step}{f' of {run.total_steps}' if run.total_steps else ''}: "
                f"press Resume (Ctrl+R) to carry on")

    def adapt_running(self) -> bool:
        return any(w.is_running for w in self.workers if w.group == "adapt")

    def workspace_changed(self) -> None:
        super().workspace_changed()
        self.query_one(LossPlot).clear_points()
        self.model_folder = None
        self.query_one("#model-choice", Select).value = "default"

    @on(Select.Changed, "#model-choice")
    def _model_choice(self, event: Select.Changed) -> None:
        if event.value == "folder":
            self.app.push_screen(FilePicker("Choose a model folder (config.json + safetensors)",
                                            self.app.start_dir, folders=True), self._folder_chosen)
        else:
            self.model_folder = None
            self.show_estimate()

    def show_estimate(self) -> None:
        """The base model already added if there is one, else the built-in SmolLM2."""
        row = self.ws.latest_model("source") if self.ws is not None else None
        label = self.query_one("#model-estimate", Static)
        if self.model_folder is not None:
            return  # the folder's own estimate is shown (choose_model_folder)
        if row and row.get("parameters"):
            shape = SimpleNamespace(vocab_size=row.get("vocab_size"), hidden_size=row.get("hidden_size"),
                                    layers=None, tied=row.get("tied"))
            label.update(f"added: {row['name']} · " + memory_estimate(int(row["parameters"]), shape))
        else:
            label.update(memory_estimate(DEFAULT_PARAMETERS, DEFAULT_SHAPE))

    def _folder_chosen(self, path: Optional[Path]) -> None:
        if path is None:
            self.query_one("#model-choice", Select).value = "default"
            return
        self.choose_model_folder(path)

    def choose_model_folder(self, path: Path) -> None:
        self.model_folder = path
        self.query_one("#model-estimate", Static).update(f"{path.name}: reading the model…")
        self.estimate_worker(str(path))

    @work(thread=True, exclusive=True, exit_on_error=False, name="size estimate", group="estimate")
    def estimate_worker(self, spec: str) -> None:
        """Describe the chosen base model from its metadata (kit.models.inspect_source): no loading."""
        from kit.models import inspect_source

        try:
            info = inspect_source(spec)
        except Exception as err:  # shown where the estimate goes; adding the model reports it properly
            self.app.call_from_thread(self.query_one("#model-estimate", Static).update, f"cannot use it: {err}")
            return
        if info.shape is not None and info.shape.parameters:
            text = f"{info.display_name}: {memory_estimate(info.shape.parameters, info.shape)}"
            self.app.call_from_thread(self.query_one("#model-estimate", Static).update, text)

    # -- buttons → actions --------------------------------------------------------------
    @on(Button.Pressed, "#add-model")
    def _add_model_pressed(self) -> None:
        self.action_add_model()

    @on(Button.Pressed, "#train-tokenizer")
    def _tok_pressed(self) -> None:
        self.action_train_tokenizer()

    @on(Button.Pressed, "#transtokenize")
    def _tt_pressed(self) -> None:
        self.action_transtokenize()

    @on(Button.Pressed, "#finetune")
    def _ft_pressed(self) -> None:
        self.action_finetune()

    @on(Button.Pressed, "#resume")
    def _resume_pressed(self) -> None:
        self.action_resume()

    @on(Button.Pressed, "#stop")
    def _stop_pressed(self) -> None:
        self.action_stop_job()

    def action_add_model(self) -> None:
        if self.require_workspace():
            spec = str(self.model_folder) if self.model_folder else "default"
            self._start("Adding the base model")
            self.add_model_worker(spec, self.new_cancel_token())

    def action_train_tokenizer(self) -> None:
        if self.require_workspace():
            try:
                vocab = int(self.query_one("#vocab-size", Input).value)
            except ValueError:
                self.notify("Tokens must be a whole number, e.g. 8000.", severity="error")
                return
            self._start(f"Training a {vocab}-token tokenizer")
            self.train_tokenizer_worker(vocab, self.new_cancel_token())

    def action_transtokenize(self) -> None:
        if self.require_workspace():
            method = self.query_one("#method", Select).value
            self._start(f"Trans-tokenizing ({method})")
            self.transtokenize_worker(method, self.new_cancel_token())

    def action_finetune(self, resume: bool = False) -> None:
        if not self.require_workspace():
            return
        if self.adapt_running():
            self.notify("A step is still running: wait for it, or stop it (Esc).", severity="warning")
            return
        budget = self.budget()
        if budget is None:
            return
        self._start("Resuming fine-tuning" if resume else "Fine-tuning")
        if resume:  # the curve carries on from the stopped run's points
            self.show_last_run(self.ws, force=True)
        else:
            self.query_one(LossPlot).clear_points()
        self.finetune_worker(budget, self.query_one("#ft-stage", Select).value, resume, self.new_cancel_token())

    def action_resume(self) -> None:
        self.action_finetune(resume=True)

    def budget(self) -> Optional[dict[str, Any]]:
        steps = self.query_one("#steps", Input).value.strip()
        minutes = self.query_one("#minutes", Input).value.strip()
        try:
            if steps:
                return {"steps": int(steps)}
            return {"minutes": float(minutes or "10")}
        except ValueError:
            self.notify("Minutes and steps must be numbers.", severity="error")
            return None

    def _start(self, title: str) -> None:
        self.query_one(ProgressPanel).start(title)

    # -- workers ------------------------------------------------------------------------
    def _progress(self) -> ThreadProgress:
        return ThreadProgress(self.app, self._show_progress)

    def _show_progress(self, event: Progress) -> None:
        self.query_one(ProgressPanel).show(event)
        loss, bpc = event.metrics.get("loss"), event.metrics.get("bpc")
        if loss is not None or bpc is not None:
            self.query_one(LossPlot).add_point(event.done, loss, bpc)

    @work(thread=True, exclusive=True, exit_on_error=False, name="add base model", group="adapt")
    def add_model_worker(self, spec: str, cancel: CancelToken) -> None:
        from kit.models import add_model

        with self.thread_workspace() as ws:
            result = ModelResult.from_row(add_model(ws, spec, progress=self._progress(), cancel=cancel))
        self.app.call_from_thread(self._done, f"base model added: {result.name}")

    @work(thread=True, exclusive=True, exit_on_error=False, name="train tokenizer", group="adapt")
    def train_tokenizer_worker(self, vocab_size: int, cancel: CancelToken) -> None:
        from kit.tokenizer import train_tokenizer

        with self.thread_workspace() as ws:
            row = train_tokenizer(ws, vocab_size=vocab_size, progress=self._progress(), cancel=cancel)
        self.app.call_from_thread(self._done, f"tokenizer ready: {row['name']}")

    @work(thread=True, exclusive=True, exit_on_error=False, name="trans-tokenize", group="adapt")
    def transtokenize_worker(self, method: str, cancel: CancelToken) -> None:
        result = jobs.transtokenize(self.app.workspace_root, method=method, progress=self._progress(),
                                    cancel=cancel, in_process=self.app.stages_in_process)
        self.app.call_from_thread(self._done, f"the model now reads and writes with your language's "
                                              f"vocabulary (saved as {result.name})")

    @work(thread=True, exclusive=True, exit_on_error=False, name="fine-tune", group="adapt")
    def finetune_worker(self, budget: dict[str, Any], stage: str, resume: bool, cancel: CancelToken) -> None:
        result = jobs.finetune(self.app.workspace_root, **budget, stage=stage, resume=resume,
                               progress=self._progress(), cancel=cancel, in_process=self.app.stages_in_process)
        self.app.call_from_thread(self._finetuned, result)

    def _finetuned(self, result: jobs.FinetuneResult) -> None:
        # Every point the run recorded, including those the throttled view skipped.
        self.show_last_run(self.ws, force=True)
        change = ""
        if result.bpc_start is not None and result.bpc_end is not None:
            better = "better" if result.bpc_end < result.bpc_start else "not better yet"
            change = (f" · on text it has not seen it is {better} "
                      f"(bits per character {result.bpc_start:.2f} → {result.bpc_end:.2f}, lower is better)")
        self._done(f"fine-tuned for {result.steps} steps, saved as {result.model.name}{change}")

    def _done(self, message: str) -> None:
        self.query_one(ProgressPanel).finish(message)
        self.notify(message)
        self.refresh_view()

    def job_failed(self, worker, error) -> None:
        from kit.errors import Cancelled

        panel = self.query_one(ProgressPanel)
        if isinstance(error, Cancelled) and worker.group == "adapt":
            panel.stopped("the checkpoint is kept; press Resume (Ctrl+R) to carry on")
        elif worker.group == "adapt":
            panel.failed(f"{error}")

