"""Translate: two panes, a direction switch, and the dictionary entries the model was shown.

Translation runs through ``kit.infer.translate``, which puts matching dictionary
entries (the glossary) into the prompt; they are listed beside the output so a
reader can see why a word was chosen. A whole file translates line by line with
progress and is written to the workspace's exports folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, DataTable, Label, TextArea

from ..kit_bridge import kit_function, kit_module
from ..model_thread import ModelThread
from ..widgets.file_picker import FilePicker
from ..widgets.progress_panel import ProgressPanel, ThreadProgress
from .base import KitScreen


def unpack(result: Any) -> tuple[str, list]:
    """(text, glossary entries used) from whatever ``kit.infer.translate`` returns."""
    if isinstance(result, str):
        return result, []
    get = (lambda k: result.get(k)) if isinstance(result, dict) else (lambda k: getattr(result, k, None))
    text = get("text") or get("translation") or get("output") or ""
    glossary = get("glossary_entries") or get("glossary") or get("entries") or []
    return str(text), list(glossary)


def entry_pair(entry: Any) -> tuple[str, str]:
    if isinstance(entry, (tuple, list)):
        return str(entry[0]), str(entry[1]) if len(entry) > 1 else ""
    if isinstance(entry, dict):
        return str(entry.get("headword", "")), str(entry.get("translation", ""))
    if hasattr(entry, "word") and getattr(entry, "word") != getattr(entry, "headword", None):
        return f"{entry.word} ({entry.headword})", str(entry.translation)
    return str(getattr(entry, "headword", entry)), str(getattr(entry, "translation", ""))


class TranslateScreen(KitScreen):
    SCREEN_TITLE = "Translate"
    AUTO_FOCUS = "#source-text"  # typing starts where the screen's main text goes
    BINDINGS = [
        Binding("ctrl+t", "translate", "Translate", id="translate.run"),
        Binding("ctrl+r", "swap", "Swap direction", id="translate.swap"),  # ctrl+d deletes in text
        Binding("ctrl+o", "translate_file", "Translate file…", id="translate.file"),
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reverse = False  # False: model language → your language
        self.model = ModelThread("translate")

    def on_unmount(self) -> None:
        self.model.shutdown()

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(id="translate-body"):
            with Horizontal(classes="toolbar"):
                yield Label("", id="direction")
                yield Button("⇄ Swap", id="swap")
                yield Checkbox("use dictionary", value=True, id="use-glossary")
                yield Button("Translate", variant="primary", id="translate")
                yield Button("Translate file…", id="translate-file")
            with Horizontal(id="panes"):
                yield TextArea("", id="source-text", soft_wrap=True)
                yield TextArea("", id="target-text", soft_wrap=True, read_only=True)
                with Vertical(id="glossary-box"):
                    yield Label("Dictionary entries used", classes="section-title")
                    yield DataTable(id="glossary", zebra_stripes=True, show_cursor=False)
            yield ProgressPanel(id="translate-progress")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#glossary", DataTable).add_columns("word", "meaning")

    # -- direction --------------------------------------------------------------------
    def languages(self) -> tuple[str, str]:
        ws = self.ws
        pair = (ws.source_lang, ws.target_lang) if ws else ("source", "target")
        return (pair[1], pair[0]) if self.reverse else pair

    def refresh_view(self) -> None:
        src, dst = self.languages()
        self.query_one("#direction", Label).update(f" {src} → {dst} ")
        self.query_one("#source-text", TextArea).border_title = src
        self.query_one("#target-text", TextArea).border_title = dst

    def workspace_changed(self) -> None:
        super().workspace_changed()
        self.reverse = False
        self.query_one("#source-text", TextArea).text = ""
        self.query_one("#target-text", TextArea).text = ""
        self.query_one("#glossary", DataTable).clear()

    def action_swap(self) -> None:
        self.reverse = not self.reverse
        source = self.query_one("#source-text", TextArea)
        target = self.query_one("#target-text", TextArea)
        if target.text:
            source.text, target.text = target.text, ""
        self.refresh_view()

    @on(Button.Pressed, "#swap")
    def _swap_pressed(self) -> None:
        self.action_swap()

    # -- one text ---------------------------------------------------------------------
    @on(Button.Pressed, "#translate")
    def _translate_pressed(self) -> None:
        self.action_translate()

    def action_translate(self) -> None:
        text = self.query_one("#source-text", TextArea).text.strip()
        if not text:
            self.notify("Type or paste text in the left pane first.", severity="warning")
            return
        if self.require_workspace():
            self.query_one(ProgressPanel).start("Translating")
            self.translate_worker(text, self.languages()[1], self.query_one("#use-glossary", Checkbox).value,
                                  self.new_cancel_token())

    # -- the model thread -------------------------------------------------------------
    def _translator(self):
        """Runs on the model thread: a Translator for the newest model, loaded once and reused."""
        ws = self.model.workspace(self.app.workspace_root)
        model_path = kit_function("infer.default_model", "resolve_model")(ws)
        translator = self.model.state.get("translator")
        if translator is None or self.model.state.get("path") != str(model_path):
            translator = kit_module("infer.translate").Translator(ws, model_path=model_path)
            self.model.state.update(translator=translator, path=str(model_path))
        return ws, translator

    def _translate_text(self, text: str, to: str, glossary: bool, cancel):
        ws, translator = self._translator()
        return kit_function("infer.translate", "translate")(ws, text, to=to, glossary=glossary,
                                                            translator=translator, cancel=cancel)

    def _translate_file(self, path: Path, to: str, glossary: bool, progress, cancel) -> Path:
        ws, translator = self._translator()
        # One output per input, direction, model and glossary setting: the same settings resume an
        # interrupted file (Escape), a newer model or the other glossary setting starts a fresh one.
        model = Path(self.model.state.get("path") or "model").stem
        flavour = "glossary" if glossary else "plain"
        out = ws.exports_dir / f"{path.stem}.{to}.{model}.{flavour}{path.suffix or '.txt'}"
        kit_function("infer.translate", "translate_file")(ws, path, out, to=to, glossary=glossary,
                                                          translator=translator, progress=progress, cancel=cancel)
        return out

    @work(thread=True, exclusive=True, exit_on_error=False, name="translate", group="translate")
    def translate_worker(self, text: str, to: str, glossary: bool, cancel) -> None:
        result = self.model.call(self._translate_text, text, to, glossary, cancel)
        self.app.call_from_thread(self._translated, *unpack(result))

    def _translated(self, text: str, glossary: list) -> None:
        self.query_one("#target-text", TextArea).text = text
        table = self.query_one("#glossary", DataTable)
        table.clear()
        for entry in glossary:
            table.add_row(*entry_pair(entry))
        self.query_one(ProgressPanel).finish(f"{len(glossary)} dictionary entries used")

    # -- a file -----------------------------------------------------------------------
    @on(Button.Pressed, "#translate-file")
    def _file_pressed(self) -> None:
        self.action_translate_file()

    def action_translate_file(self) -> None:
        if self.require_workspace():
            self.app.push_screen(FilePicker("Choose a text file to translate (one segment per line)",
                                            self.app.start_dir), self._file_chosen)

    def _file_chosen(self, path: Optional[Path]) -> None:
        if path is not None:
            self.translate_file(path)

    def translate_file(self, path: Path) -> None:
        self.query_one(ProgressPanel).start(f"Translating {path.name}")
        self.translate_file_worker(path, self.languages()[1], self.query_one("#use-glossary", Checkbox).value,
                                   self.new_cancel_token())

    @work(thread=True, exclusive=True, exit_on_error=False, name="translate file", group="translate")
    def translate_file_worker(self, path: Path, to: str, glossary: bool, cancel) -> None:
        progress = ThreadProgress(self.app, self.query_one(ProgressPanel).show)
        out = self.model.call(self._translate_file, path, to, glossary, progress, cancel)
        self.app.call_from_thread(self._file_done, out)

    def _file_done(self, out: Path) -> None:
        self.query_one(ProgressPanel).finish(f"written to {out}")
        self.notify(f"Translation written to {out}")

    def job_failed(self, worker, error) -> None:
        self.query_one(ProgressPanel).stopped(f"stopped: {error}")
