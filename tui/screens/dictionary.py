"""Dictionary: import dictionary and text files, then search the entries both ways.

Import runs in a thread worker with progress; a malformed line stops the import
with the file and line in a dialog (or is skipped and listed, with 'skip bad lines').
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, DataTable, Input, Label, Log, Select, Static

from ..kit_bridge import kit_function, kit_module
from ..widgets.file_picker import FilePicker
from ..widgets.progress_panel import ProgressPanel, ThreadProgress
from .base import KitScreen

CORPUS_KINDS = [("sentence pairs", "parallel"), ("your language only", "mono")]


def field(row: Any, name: str, default: Any = "") -> Any:
    """Read a column from a dict row or an attribute from a result object."""
    if isinstance(row, dict):
        return row.get(name, default)
    return getattr(row, name, default)


def guess_format(path: Path) -> str:
    """The format the kit will detect, shown before importing (kit's detector when it has one)."""
    try:
        detect = kit_function("dictionary.detect", "detect_format")
    except Exception:
        detect = None
    if detect is not None:
        try:
            return str(detect(path))
        except Exception as err:  # shown, not raised: the import itself reports properly
            return f"unknown ({err})"
    name = path.name
    if name.endswith((".index", ".dict.dz", ".dict")) or (path.is_dir() and any(path.glob("*.index"))):
        return "dictd"
    if "bidix" in name:
        return "bidix"
    if name.endswith((".tsv", ".tab")):
        return "tsv"
    if name.endswith(".csv"):
        return "csv"
    return "unknown"


def describe_format(path: Path) -> str:
    """The picker's line under a highlighted file: what the kit will read it as."""
    return f"format: {guess_format(path)}" if path.is_file() else ""


class DictionaryScreen(KitScreen):
    SCREEN_TITLE = "Dictionary"
    AUTO_FOCUS = "#search"  # typing starts where the screen's main text goes
    BINDINGS = [
        Binding("ctrl+o", "import_dictionary", "Import dictionary…", id="dictionary.import"),
        Binding("ctrl+t", "import_corpus", "Import text…", id="dictionary.import_text"),
        Binding("ctrl+f", "focus_search", "Search", id="dictionary.search"),
    ]

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(id="dictionary-body"):
            with Horizontal(classes="toolbar"):
                yield Button("Import dictionary…", variant="primary", id="import-dictionary")
                yield Checkbox("reverse", id="reverse", tooltip="The file lists your language first")
                yield Checkbox("skip bad lines", id="skip-bad")
                yield Button("Import text…", id="import-corpus")
                yield Select(CORPUS_KINDS, value="parallel", allow_blank=False, id="corpus-kind")
            yield Static("", id="dictionary-stats", classes="hint")
            yield ProgressPanel(id="dictionary-progress")
            with Horizontal(classes="form-row"):
                yield Input(placeholder="search a word in either language…", id="search")
            yield DataTable(id="entries", zebra_stripes=True, cursor_type="row")
            yield Label("Import problems", classes="section-title", id="problems-title")
            yield Log(id="problems", max_lines=500)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#entries", DataTable).add_columns("headword", "translation", "pos", "direction")
        self.query_one("#problems", Log).display = False
        self.query_one("#problems-title").display = False

    # -- view -------------------------------------------------------------------------
    def refresh_view(self) -> None:
        stats_label = self.query_one("#dictionary-stats", Static)
        ws = self.ws
        if ws is None:
            stats_label.update("")
            return
        try:
            stats = kit_function("dictionary.search", "stats")(ws)
        except Exception as err:  # a missing stage must not stop the screen from drawing
            stats_label.update(f"Dictionary statistics are not available yet ({err}).")
        else:
            stats_label.update(_describe_stats(stats))
        self.run_search(self.query_one("#search", Input).value)

    def workspace_changed(self) -> None:
        super().workspace_changed()
        self.query_one("#search", Input).value = ""
        self._clear_problems()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.run_search(event.value)

    def run_search(self, word: str) -> None:
        table = self.query_one("#entries", DataTable)
        table.clear()
        word = word.strip()
        if not word or self.ws is None:
            return
        try:
            rows = kit_function("dictionary.search", "search")(self.ws, word, limit=50)
        except Exception as err:
            self.notify(f"Search is not available: {err}", severity="warning")
            return
        for row in rows:
            direction = f"{field(row, 'headword_lang')}→{field(row, 'translation_lang')}"
            table.add_row(str(field(row, "headword")), str(field(row, "translation")),
                          str(field(row, "pos") or ""), direction)

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    # -- import -----------------------------------------------------------------------
    def action_import_dictionary(self) -> None:
        if self.require_workspace():
            self.app.push_screen(FilePicker("Choose a dictionary file (dictd .index, TSV, TEI, Apertium, .po, TMX)",
                                            self.app.start_dir, describe=describe_format), self._dictionary_chosen)

    def action_import_corpus(self) -> None:
        if self.require_workspace():
            self.app.push_screen(FilePicker("Choose a text file (TSV pairs or plain text)", self.app.start_dir),
                                 self._corpus_chosen)

    @on(Button.Pressed, "#import-dictionary")
    def _import_dictionary_pressed(self) -> None:
        self.action_import_dictionary()

    @on(Button.Pressed, "#import-corpus")
    def _import_corpus_pressed(self) -> None:
        self.action_import_corpus()

    def _dictionary_chosen(self, path: Path | None) -> None:
        if path is not None:
            self.import_dictionary_file(path)

    def _corpus_chosen(self, path: Path | None) -> None:
        if path is not None:
            self.import_corpus_file(path)

    def import_dictionary_file(self, path: Path) -> None:
        """Start importing ``path`` (also what the journey test calls after the picker)."""
        fmt = guess_format(path)
        self.query_one(ProgressPanel).start(f"Importing {path.name} (format: {fmt})")
        self._clear_problems()
        self.import_dictionary_worker(path, self.query_one("#reverse", Checkbox).value,
                                      self.query_one("#skip-bad", Checkbox).value, self.new_cancel_token())

    def import_corpus_file(self, path: Path) -> None:
        kind = self.query_one("#corpus-kind", Select).value
        self.query_one(ProgressPanel).start(f"Importing {path.name} as {kind} text")
        self._clear_problems()
        self.import_corpus_worker(path, kind, self.query_one("#skip-bad", Checkbox).value, self.new_cancel_token())

    @work(thread=True, exclusive=True, exit_on_error=False, name="import dictionary", group="import")
    def import_dictionary_worker(self, path: Path, reverse: bool, skip_bad: bool, cancel) -> None:
        dictionary = kit_module("dictionary")
        progress = ThreadProgress(self.app, self.query_one(ProgressPanel).show)
        problems: list[str] = []
        with self.thread_workspace() as ws:
            if hasattr(dictionary, "import_dictionary"):
                result = dictionary.import_dictionary(ws, [path], reverse=reverse, skip_bad=skip_bad or None,
                                                      progress=progress)
            else:
                rejects = ws.logs_dir / f"rejects-{path.name}.txt" if skip_bad else None
                result = kit_function("dictionary", "import_files")(
                    ws, [path], reverse=reverse, rejects_path=rejects, progress=progress, cancel=cancel)
                if rejects is not None and rejects.exists():
                    problems = [line.split("\t")[0] for line in rejects.read_text(encoding="utf-8").splitlines()]
        self.app.call_from_thread(self._imported, path, result, problems)

    @work(thread=True, exclusive=True, exit_on_error=False, name="import text", group="import")
    def import_corpus_worker(self, path: Path, kind: str, skip_bad: bool, cancel) -> None:
        import_corpus = kit_function("corpus", "import_corpus")
        progress = ThreadProgress(self.app, self.query_one(ProgressPanel).show)
        rejects: list = [] if skip_bad else None
        with self.thread_workspace() as ws:
            result = import_corpus(ws, path, kind=kind, rejects=rejects, progress=progress, cancel=cancel)
        problems = [f"{path}:{field(r, 'line', 0) or 0}: {field(r, 'reason', r)}" for r in rejects or []]
        self.app.call_from_thread(self._imported, path, result, problems)

    def _imported(self, path: Path, result: Any, problems: list[str]) -> None:
        self.query_one(ProgressPanel).finish(f"{path.name}: {_describe_result(result)}")
        if problems:
            log = self.query_one("#problems", Log)
            log.display = True
            self.query_one("#problems-title").display = True
            log.write_lines(problems)
        self.notify(f"Imported {path.name}")
        self.refresh_view()

    def _clear_problems(self) -> None:
        log = self.query_one("#problems", Log)
        log.clear()
        log.display = False
        self.query_one("#problems-title").display = False

    def job_failed(self, worker, error) -> None:
        self.query_one(ProgressPanel).stopped(f"not imported: {error}")


def _describe_stats(stats: Any) -> str:
    if isinstance(stats, dict):
        return " · ".join(f"{k.replace('_', ' ')}: {v}" for k, v in stats.items() if not isinstance(v, (dict, list)))
    return str(stats)


def _describe_result(result: Any) -> str:
    if result is None:
        return "done"
    if isinstance(result, (list, tuple)):
        return "; ".join(_describe_result(r) for r in result)
    if isinstance(result, dict):
        return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.items()
                         if isinstance(v, (int, float, str)) and k not in ("path", "sha256"))
    count = getattr(result, "count", None)
    if isinstance(count, int):
        kind = getattr(result, "kind", "")
        unit = "entries" if kind == "dictionary" else "segments"
        fmt = getattr(result, "format", "")
        extra = [f"{n} {what}" for what in ("duplicates", "rejected") if (n := getattr(result, what, 0))]
        note = " (already imported)" if getattr(result, "already_imported", False) else ""
        return ", ".join([f"{count} {unit} ({fmt})", *extra]) + note
    for attr in ("entry_count", "segment_count", "train", "heldout"):
        value = getattr(result, attr, None)
        if isinstance(value, int):
            return f"{value} {attr.replace('_', ' ')}"
    return str(result)
