"""Dictionary screen: a bad line stops the import with FILE:LINE, or is skipped and listed."""

from __future__ import annotations

from textual.widgets import Checkbox, Input, Log

from tui_helpers import settle
from tui.app import TaalkitApp
from tui.screens.dictionary import DictionaryScreen
from tui.widgets.error_modal import ErrorModal

ROWS = "cath\tcat\nline without a tab\nci\tdog\ndŵr\twater\n"


async def test_bad_line_is_named_then_skipped_and_listed(snap_workspace, tmp_path):
    bad = tmp_path / "geiriadur.tsv"
    bad.write_text(ROWS, encoding="utf-8")
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DictionaryScreen)

        screen.import_dictionary_file(bad)
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert f"{bad}:2" in app.screen.message
        await pilot.press("escape")
        assert app.workspace.db["entries"].count == 0, "a failed import must leave nothing behind"

        screen.query_one("#skip-bad", Checkbox).value = True
        screen.import_dictionary_file(bad)
        await settle(pilot)
        assert not isinstance(app.screen, ErrorModal)
        problems = screen.query_one("#problems", Log)
        assert problems.display and any(f"{bad}:2" in line for line in problems.lines)
        assert app.workspace.db["entries"].count == 3

        screen.query_one("#search", Input).value = "water"
        await pilot.pause()
        assert screen.query_one("#entries").row_count >= 1
