"""Translate: two panes, a direction switch, and the dictionary entries the model was shown.

Translation runs through ``kit.infer.translate``, which puts matching dictionary
entries (the glossary) into the prompt; they are listed beside the output so a
reader can see why a word was chosen. A whole file translates line by line with
progress and is written to the workspace's exports folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label, Static, TextArea

from kit.errors import Cancelled
from kit.infer.glossary import GlossaryEntry

from ..model_thread import ModelThread
from ..widgets.checkbox import SaidCheckbox
from ..widgets.file_picker import FilePicker
from ..widgets.progress_panel import ProgressPanel, ThreadProgress
from .base import KitScreen, loaded_model_line


def entry_pair(entry: GlossaryEntry) -> tuple[str, str]:
    """(word, meaning) for the table: the word as typed, and the headword when it matched another form."""
    word = entry.headword if entry.word == entry.headword else f"{entry.word} ({entry.headword})"
    return word, entry.translation


def output_name(path: Path, to: str, model: str, glossary: bool) -> str:
    """The translated file's name: the input's, the language, the model, and whether the dictionary helped.

    One output per input, direction, model and dictionary setting: the same settings resume an
    interrupted file (Escape), a newer model or the other setting starts a fresh one.
    """
    return f"{path.stem}.{to}.{model}{'' if glossary else '.without-dictionary'}{path.suffix or '.txt'}"


class TranslateScreen(KitScreen):
    SCREEN_TITLE = "Translate"
    MODE = "translate"
    AUTO_FOCUS = "#source-text"  # typing starts where the screen's main text goes
    BINDINGS = [
        Binding("ctrl+t", "translate", "Translate", id="translate.run"),
        Binding("ctrl+r", "swap", "Swap", id="translate.swap"),  # ctrl+d deletes in text
        Binding("ctrl+o", "translate_file", "Whole file…", id="translate.file"),
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
                yield SaidCheckbox("use dictionary", value=True, id="use-glossary",
                                   tooltip="Show the model the dictionary's entries for the words in the text")
                yield Button("Translate", variant="primary", id="translate")
                yield Button("Whole file…", id="translate-file", tooltip="Translate a text file line by line (Ctrl+O)")
            with Horizontal(id="panes"):
                yield TextArea("", id="source-text", soft_wrap=True)
                yield TextArea("", id="target-text", soft_wrap=True, read_only=True)
                with Vertical(id="glossary-box"):
                    yield Label("Dictionary entries used", classes="section-title")
                    yield DataTable(id="glossary", zebra_stripes=True, show_cursor=False)
            yield Static("", id="translate-model", classes="hint")
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
        self.show_model()

    def show_model(self) -> None:
        """Which model translates: the current model's export, and whether it is loaded yet."""
        loaded = self.model.state.get("path")
        self.query_one("#translate-model", Static).update(loaded_model_line(self.ws, loaded))

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
            self.translate_worker(text, self.languages()[1], self.query_one("#use-glossary", SaidCheckbox).value,
                                  self.new_cancel_token())

    # -- the model thread -------------------------------------------------------------
    def _translator(self):
        """Runs on the model thread: a Translator for the current model's export, loaded once and reused."""
        from kit.infer.default_model import resolve_model
        from kit.infer.translate import Translator

        ws = self.model.workspace(self.app.workspace_root)
        model_path = resolve_model(ws)
        translator = self.model.state.get("translator")
        if translator is None or self.model.state.get("path") != str(model_path):
            translator = Translator(ws, model_path=model_path)
            self.model.state.update(translator=translator, path=str(model_path))
        return ws, translator

    def _translate_text(self, text: str, to: str, glossary: bool, cancel):
        from kit.infer.translate import translate

        ws, translator = self._translator()
        return translate(ws, text, to=to, glossary=glossary, translator=translator, cancel=cancel)

    def _translate_file(self, path: Path, to: str, glossary: bool, progress, cancel) -> Path:
        from kit.infer.translate import translate_file

        ws, translator = self._translator()
        model = Path(self.model.state.get("path") or "model").stem
        out = ws.exports_dir / output_name(path, to, model, glossary)
        translate_file(ws, path, out, to=to, glossary=glossary, translator=translator, progress=progress,
                       cancel=cancel)
        return out

    @work(thread=True, exclusive=True, exit_on_error=False, name="translate", group="translate")
    def translate_worker(self, text: str, to: str, glossary: bool, cancel) -> None:
        result = self.model.call(self._translate_text, text, to, glossary, cancel)
        self.app.call_from_thread(self._translated, result)

    def _translated(self, result) -> None:
        """Show a :class:`kit.infer.translate.Translation`: its text and the entries the model was shown."""
        self.query_one("#target-text", TextArea).text = result.text
        table = self.query_one("#glossary", DataTable)
        table.clear()
        for entry in result.glossary_entries:
            table.add_row(*entry_pair(entry))
        n = len(result.glossary_entries)
        note = " · the model's answer looked wrong, so this is the word-by-word draft" if result.fell_back else ""
        self.query_one(ProgressPanel).finish(f"{n} dictionary entr{'y' if n == 1 else 'ies'} used{note}")
        self.show_model()

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
        self.translate_file_worker(path, self.languages()[1], self.query_one("#use-glossary", SaidCheckbox).value,
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
        panel = self.query_one(ProgressPanel)
        if isinstance(error, Cancelled):
            panel.stopped("stopped: the lines done so far are kept" if worker.name == "translate file" else "stopped")
        else:
            panel.failed(f"not translated: {error}")
