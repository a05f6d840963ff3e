"""Home: your workspaces, their language pair and where each stands in the pipeline."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, Static

from kit.errors import TaalkitError

from ..widgets.error_modal import ErrorModal
from ..widgets.file_picker import FilePicker
from .base import KitScreen

#: For each checklist step: what to do next, and where.
NEXT_STEP = {
    "dictionary": "Import a dictionary on Dictionary (F3).",
    "text": "Import text (parallel or in your language) on Dictionary (F3).",
    "source model": "Add the base model on Adapt (F4).",
    "tokenizer": "Train a tokenizer on Adapt (F4).",
    "trans-tokenized": "Trans-tokenize on Adapt (F4).",
    "fine-tuned": "Fine-tune on Adapt (F4).",
    "exported": "Export a GGUF on Export (F5).",
}


def find_workspaces(*roots: Path) -> list[Path]:
    """Workspace folders directly inside ``roots`` (and the roots themselves), sorted by name."""
    found: set[Path] = set()
    for root in roots:
        if root is None:
            continue
        if (root / "taalkit.db").exists():
            found.add(root.resolve())
        if root.is_dir():
            for child in root.iterdir():
                if (child / "taalkit.db").exists():
                    found.add(child.resolve())
    return sorted(found, key=lambda p: p.name)


class HomeScreen(KitScreen):
    SCREEN_TITLE = "Home"
    MODE = "home"
    AUTO_FOCUS = "#workspaces"  # arrows + Enter open one; with none yet, the new folder's field (below)
    BINDINGS = [
        Binding("ctrl+n", "focus_create", "New workspace", id="home.new"),
        Binding("ctrl+o", "open_workspace", "Open…", id="home.open"),
    ]

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="home-body"):
            with Vertical(id="home-left"):
                yield Label("Workspaces", classes="section-title")
                yield DataTable(id="workspaces", cursor_type="row", zebra_stripes=True)
                yield Label("New workspace", classes="section-title")
                with Horizontal(classes="form-row"):
                    yield Input(placeholder="folder, e.g. ~/taalkit/welsh", id="new-path")
                with Horizontal(classes="form-row"):
                    yield Input(value="en", placeholder="model language", id="new-source", classes="lang")
                    yield Label("→", classes="pair-arrow")
                    yield Input(placeholder="your language, e.g. cy", id="new-target", classes="lang")
                    yield Button("Create", variant="primary", id="create")
                    yield Button("Open…", id="open")
            with VerticalScroll(id="home-right"):
                yield Label("Where this workspace stands", classes="section-title")
                yield Static("", id="checklist")
                yield Static("", id="next-step", classes="hint")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#workspaces", DataTable)
        table.add_columns("name", "pair", "steps", "folder")
        self.refresh_banner()
        self.refresh_view()

    # -- view -------------------------------------------------------------------------
    def search_roots(self) -> list[Path]:
        from kit.workspace import default_workspace_path

        default = default_workspace_path()
        roots = [default.parent]
        if self.app.workspace_root is not None:
            roots.append(self.app.workspace_root.parent)
        return roots

    def refresh_view(self) -> None:
        from kit.workspace import Workspace

        table = self.query_one("#workspaces", DataTable)
        table.clear()
        for path in find_workspaces(*self.search_roots()):
            try:
                ws = Workspace.open(path)
            except TaalkitError:
                continue
            try:
                done = sum(ws.checklist().values())
                total = len(ws.checklist())
                mark = "● " if path == self.app.workspace_root else "  "
                table.add_row(mark + ws.name, f"{ws.source_lang}→{ws.target_lang}", f"{done}/{total}",
                              _short(path), key=str(path))
            finally:
                ws.close()
        self.show_checklist()
        if table.row_count == 0 and self.app.focused is table:
            self.query_one("#new-path", Input).focus()

    def show_checklist(self) -> None:
        ws = self.app.workspace
        checklist = self.query_one("#checklist", Static)
        hint = self.query_one("#next-step", Static)
        if ws is None:
            checklist.update("No workspace open.")
            hint.update("Create one below: a folder, the model's language (en) and yours (e.g. cy).")
            return
        steps = ws.checklist()
        lines = [f"{ws.name}  {ws.source_lang} → {ws.target_lang}", ""]
        lines += [f" {'✔' if done else '·'}  {step}" for step, done in steps.items()]
        checklist.update("\n".join(lines))
        todo = [step for step, done in steps.items() if not done]
        hint.update(f"Next: {NEXT_STEP[todo[0]]}" if todo else "All done: chat (F6) or translate (F7).")

    # -- actions ----------------------------------------------------------------------
    def action_focus_create(self) -> None:
        self.query_one("#new-path", Input).focus()

    def action_open_workspace(self) -> None:
        def opened(path: Path | None) -> None:
            if path is not None:
                self._open(path)

        start = self.app.workspace_root.parent if self.app.workspace_root else Path.home()
        self.app.push_screen(FilePicker("Open a workspace folder", start, folders=True), opened)

    def _open(self, path: Path) -> None:
        try:
            self.app.open_workspace(path)
        except TaalkitError as err:
            self.app.push_screen(ErrorModal("Could not open the workspace", err))
            return
        self.notify(f"Opened {self.app.workspace.name}")

    @on(Button.Pressed, "#open")
    def _open_pressed(self) -> None:
        self.action_open_workspace()

    @on(Button.Pressed, "#create")
    @on(Input.Submitted, "#new-target")
    def _create(self) -> None:
        path = self.query_one("#new-path", Input).value.strip()
        source = self.query_one("#new-source", Input).value.strip()
        target = self.query_one("#new-target", Input).value.strip()
        if not path or not target:
            self.notify("Give a folder and your language's code (e.g. cy).", severity="warning")
            return
        try:
            ws = self.app.create_workspace(Path(path).expanduser(), source, target)
        except TaalkitError as err:
            self.app.push_screen(ErrorModal("Could not create the workspace", err))
            return
        self.notify(f"Workspace {ws.name} ready: next, import a dictionary (F3).")

    @on(DataTable.RowSelected, "#workspaces")
    def _row(self, event: DataTable.RowSelected) -> None:
        path = Path(event.row_key.value)
        if path != self.app.workspace_root:
            self._open(path)


def _short(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)
