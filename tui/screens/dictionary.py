"""Dictionary: import dictionary and text files, then search the entries both ways.

Import runs in a thread worker with progress; a malformed line stops the import
with the file and line in a dialog (or is skipped and listed, with 'skip bad lines').
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Log, Select, Static

from kit.corpus import CorpusImport, import_corpus
from kit.dictionary import ImportResult, detect_format, import_files, search, stats
from kit.errors import TaalkitError

from ..widgets.checkbox import SaidCheckbox
from ..widgets.file_picker import FilePicker
from ..widgets.progress_panel import ProgressPanel, ThreadProgress
from .base import KitScreen

CORPUS_KINDS = [("sentence pairs", "parallel"), ("your language only", "mono")]

#: kit's format names, as the picker says them.
FORMAT_NAMES = {
    "dictd": "FreeDict (dictd)", "tei": "FreeDict (TEI XML)", "tsv": "table (TSV)", "csv": "table (CSV)",
    "apertium-dix": "Apertium dictionary", "apertium-tsv": "Apertium table", "po": "translation file (.po)",
    "mo": "translation file (.mo)", "tmx": "translation memory (TMX)",
}


def describe_format(path: Path) -> str:
    """The picker's line under a highlighted file: what kit will read it as (kit's own detector)."""
    if not path.is_file():
        return ""
    try:
        fmt = detect_format(path)
    except TaalkitError as err:  # shown, not raised: the import itself reports it properly
        return f"format: not recognised ({str(err).split(';')[0]})"
    return f"format: {FORMAT_NAMES.get(fmt, fmt)}"


class DictionaryScreen(KitScreen):
    SCREEN_TITLE = "Dictionary"
    MODE = "dictionary"
    AUTO_FOCUS = "#search"  # typing starts where the screen's main text goes
    BINDINGS = [
        Binding("ctrl+o", "import_dictionary", "Dictionary file…", id="dictionary.import"),
        Binding("ctrl+t", "import_corpus", "Text file…", id="dictionary.import_text"),
        Binding("ctrl+f", "focus_search", "Search", id="dictionary.search"),
    ]

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(id="dictionary-body"):
            with Horizontal(classes="toolbar"):
                yield Button("Import dictionary…", variant="primary", id="import-dictionary")
                yield SaidCheckbox("your language first", id="reverse",
                                   tooltip="Tick when the file lists words in your language first")
                yield SaidCheckbox("skip bad lines", id="skip-bad",
                                   tooltip="Import the good lines and list the bad ones below")
            with Horizontal(classes="toolbar"):
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
        stats_label.update(describe_stats(stats(ws)))
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
        for row in search(self.ws, word, limit=50):
            table.add_row(row["headword"], row["translation"], row.get("pos") or "",
                          f"{row['headword_lang']}→{row['translation_lang']}")

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
        self.query_one(ProgressPanel).start(f"Importing {path.name} ({describe_format(path)})")
        self._clear_problems()
        self.import_dictionary_worker(path, self.query_one("#reverse", SaidCheckbox).value,
                                      self.query_one("#skip-bad", SaidCheckbox).value, self.new_cancel_token())

    def import_corpus_file(self, path: Path) -> None:
        kind = self.query_one("#corpus-kind", Select).value
        self.query_one(ProgressPanel).start(f"Importing {path.name} as {kind} text")
        self._clear_problems()
        self.import_corpus_worker(path, kind, self.query_one("#skip-bad", SaidCheckbox).value, self.new_cancel_token())

    @work(thread=True, exclusive=True, exit_on_error=False, name="import dictionary", group="import")
    def import_dictionary_worker(self, path: Path, reverse: bool, skip_bad: bool, cancel) -> None:
        progress = ThreadProgress(self.app, self.query_one(ProgressPanel).show)
        problems: list[str] = []
        with self.thread_workspace() as ws:
            rejects = ws.logs_dir / f"rejects-{path.name}.txt" if skip_bad else None
            results = import_files(ws, [path], reverse=reverse, rejects_path=rejects, progress=progress,
                                   cancel=cancel)
            if rejects is not None and rejects.exists():
                problems = [line.split("\t")[0] for line in rejects.read_text(encoding="utf-8").splitlines()]
        self.app.call_from_thread(self._imported, path, describe_imports(results), problems)

    @work(thread=True, exclusive=True, exit_on_error=False, name="import text", group="import")
    def import_corpus_worker(self, path: Path, kind: str, skip_bad: bool, cancel) -> None:
        progress = ThreadProgress(self.app, self.query_one(ProgressPanel).show)
        rejects: list = [] if skip_bad else None
        with self.thread_workspace() as ws:
            result = import_corpus(ws, path, kind=kind, rejects=rejects, progress=progress, cancel=cancel)
        problems = [f"{path}:{r.line or 0}: {r.reason}" for r in rejects or []]
        self.app.call_from_thread(self._imported, path, describe_corpus(result), problems)

    def _imported(self, path: Path, summary: str, problems: list[str]) -> None:
        self.query_one(ProgressPanel).finish(f"{path.name}: {summary}")
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


def _n(value: int) -> str:
    return f"{value:,}"


def describe_stats(stats: dict) -> str:
    """kit.dictionary.stats in words; the coverage number becomes a share of the words in the text."""
    if not stats.get("entries") and not stats.get("segments"):
        return "Nothing imported yet: import a dictionary (Ctrl+O), then text (Ctrl+T)."
    parts = [f"{_n(stats['entries'])} dictionary entries ({_n(stats['headwords'])} different words) "
             f"from {stats['dictionaries']} file{'s' if stats['dictionaries'] != 1 else ''}"]
    corpora = stats.get("per_corpus") or []
    pairs = sum(c["segments"] for c in corpora if c["kind"] == "parallel")
    mono = sum(c["segments"] for c in corpora if c["kind"] == "mono")
    if pairs:
        parts.append(f"{_n(pairs)} sentence pairs")
    if mono:
        parts.append(f"{_n(mono)} lines in your language")
    if stats.get("coverage") is not None:
        parts.append(f"the dictionary knows {stats['coverage'] * 100:.0f}% of the words in your text")
    return " · ".join(parts)


def describe_imports(results: list[ImportResult]) -> str:
    """What kit.dictionary.import_files did, in words."""
    return "; ".join(_describe_one(r.count, "entries" if r.kind == "dictionary" else
                                   "sentence pairs" if r.kind == "parallel" else "lines",
                                   r.duplicates, r.rejected, r.already_imported) for r in results) or "nothing"


def describe_corpus(result: CorpusImport) -> str:
    """What kit.corpus.import_corpus did, in words (how many lines are kept aside to test the model)."""
    unit = "sentence pairs" if result.kind == "parallel" else "lines"
    text = _describe_one(result.segments, unit, result.duplicates, result.rejected, result.already_imported)
    if result.heldout and not result.already_imported:
        text += f" ({_n(result.heldout)} kept aside to test the model)"
    return text


def _describe_one(count: int, unit: str, duplicates: int, rejected: int, already: bool) -> str:
    if already:
        return f"already imported ({_n(count)} {unit})"
    extra = [f"{_n(n)} {what}" for what, n in (("repeated, kept once", duplicates), ("bad lines skipped", rejected))
             if n]
    return f"{_n(count)} {unit} imported" + (f", {', '.join(extra)}" if extra else "")
