"""Drive the real app with Pilot: navigation, keys, palette, workspaces, errors, progress.

These run without any trained model; the whole journey is in test_journey.py.
"""

from __future__ import annotations

import threading

import pytest
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static, TextArea

from kit.progress import Progress
from tui_helpers import MIXED_SCRIPT, settle
from tui.app import JOURNEY, TaalkitApp
from tui.screens.adapt import AdaptScreen
from tui.screens.base import KitScreen
from tui.screens.chat import ChatScreen
from tui.screens.dictionary import DictionaryScreen
from tui.screens.export import ExportScreen
from tui.screens.help import HelpScreen
from tui.screens.home import HomeScreen
from tui.screens.translate import TranslateScreen
from tui.widgets.error_modal import ErrorModal
from tui.widgets.file_picker import FilePicker
from tui.widgets.progress_panel import ProgressPanel, ThreadProgress

SCREEN_CLASSES = [HomeScreen, DictionaryScreen, AdaptScreen, ExportScreen, ChatScreen, TranslateScreen,
                  HelpScreen, KitScreen, ErrorModal, FilePicker, TaalkitApp]


@pytest.mark.parametrize("cls", SCREEN_CLASSES, ids=lambda c: c.__name__)
def test_every_binding_has_an_id(cls):
    bindings = [b for b in cls.BINDINGS if isinstance(b, Binding)]
    assert len(bindings) == len(cls.BINDINGS), "bindings must be Binding objects (they carry ids)"
    assert bindings and all(b.id for b in bindings)
    assert len({b.id for b in bindings}) == len(bindings)


async def test_function_keys_walk_the_journey(snap_workspace):
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        expected = dict(zip([m for m, _, _ in JOURNEY],
                            [HomeScreen, DictionaryScreen, AdaptScreen, ExportScreen, ChatScreen, TranslateScreen]))
        for mode, _title, key in JOURNEY[::-1]:
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, expected[mode])
            assert "workspace cymraeg (en → cy)" in app.screen.sub_title
            bar = str(app.screen.query_one("#journey", Static).render())
            assert f"{key.upper()} {_title}" in bar


async def test_help_lists_keys_with_their_ids(snap_workspace):
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f4", "f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        ids = {row[2] for row in app.screen.key_rows()}
        assert {"adapt.resume", "app.help", "job.stop"} <= ids
        await pilot.press("escape")
        assert isinstance(app.screen, AdaptScreen)
        await pilot.press("f1", "f1")  # F1 also closes it
        await pilot.pause()
        assert isinstance(app.screen, AdaptScreen)


async def test_command_palette_runs_a_screen_action(snap_workspace):
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"swap direction")
        from textual.command import CommandList

        for _ in range(100):  # the palette searches in the background: wait for the match (a loaded machine is slow)
            await pilot.pause(0.1)
            found = app.screen.query(CommandList)
            if found and found.first().option_count and \
                    "swap direction" in str(found.first().get_option_at_index(0).prompt).lower():
                break
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, TranslateScreen)
        assert app.screen.reverse is True
        assert app.screen.languages() == ("cy", "en")


async def test_create_a_workspace_from_home(no_workspace):
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.workspace is None
        app.screen.query_one("#new-path", Input).value = str(no_workspace / "afrikaans")
        app.screen.query_one("#new-target", Input).value = "af"
        await pilot.click("#create")
        await pilot.pause()
        assert app.workspace is not None and app.workspace.target_lang == "af"
        assert (no_workspace / "afrikaans" / "taalkit.db").exists()
        checklist = str(app.screen.query_one("#checklist", Static).render())
        assert "·  dictionary" in checklist
        table = app.screen.query_one("#workspaces", DataTable)
        assert table.row_count == 1


async def test_bad_language_code_shows_a_dialog_not_a_crash(no_workspace):
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#new-path", Input).value = str(no_workspace / "x")
        app.screen.query_one("#new-target", Input).value = "c y"
        await pilot.click("#create")
        await pilot.pause()
        assert isinstance(app.screen, ErrorModal)
        assert "target language must be a code" in app.screen.message
        await pilot.press("enter")
        assert isinstance(app.screen, HomeScreen)
        assert app.workspace is None


async def test_a_failing_job_shows_a_dialog_and_the_app_keeps_running(snap_workspace, tmp_path):
    not_text = tmp_path / "photo.txt"
    not_text.write_bytes(b"\xff\xfe\x00broken")
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f7")
        await pilot.pause()
        app.screen.translate_file(not_text)
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal)
        assert app.screen.message  # the one-line reason
        await pilot.press("escape")
        assert isinstance(app.screen, TranslateScreen)
        # A failure is said as a failure, never as a stop (issue 15, point 3).
        panel = app.screen.query_one(ProgressPanel)
        assert panel.state == "failed"
        assert str(panel.query_one(".progress-detail", Static).render()).startswith("not translated:")


async def test_file_picker_returns_a_typed_path(snap_workspace, demo_data):
    chosen = []
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(FilePicker("pick", demo_data), chosen.append)
        await pilot.pause()
        app.screen.query_one("#picker-path", Input).value = str(demo_data / "cy" / "nope.tsv")
        await pilot.click("#picker-choose")
        await pilot.pause()
        assert isinstance(app.screen, FilePicker), "a missing file must not be accepted"
        box = app.screen.query_one("#picker-path", Input)
        box.value = str(demo_data / "cy" / "test_en_cy.tsv")
        box.focus()
        await pilot.press("enter")
        await pilot.pause()
    assert chosen == [demo_data / "cy" / "test_en_cy.tsv"]


async def test_mixed_scripts_survive_the_panes(snap_workspace):
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f7")
        await pilot.pause()
        app.screen.query_one("#source-text", TextArea).text = MIXED_SCRIPT
        await pilot.press("ctrl+r")  # swap keeps the source text when there is no output yet
        await pilot.pause()
        assert app.screen.query_one("#source-text", TextArea).text == MIXED_SCRIPT
        svg = app.export_screenshot()
    for fragment in ("ŵyn", "ŷd", "שלום"):
        assert fragment in svg


async def test_escape_cancels_the_running_job_token(snap_workspace):
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        token = app.screen.new_cancel_token()
        await pilot.press("escape")
        assert token.cancelled
        with pytest.raises(Exception, match="stopped by the user"):
            token.check()


async def test_thread_progress_reaches_the_panel_from_a_thread(snap_workspace):
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        panel = app.screen.query_one(ProgressPanel)
        panel.start("counting")
        forward = ThreadProgress(app, panel.show, interval=10.0)

        def work():
            for i in range(1, 201):
                forward(Progress("counting", i, 200, metrics={"loss": 1.0 / i}))

        thread = threading.Thread(target=work)
        thread.start()
        while thread.is_alive():
            await pilot.pause(0.05)
        thread.join()
        await pilot.pause()
        bar = panel.query_one("ProgressBar")
        assert bar.progress == 200 and bar.total == 200  # the final event always gets through
        assert len(forward.events) == 200  # and every metric point is kept for the plot
        assert "loss 0.005" in str(panel.query_one(".progress-detail", Static).render())


def test_metrics_line_reads_like_a_sentence():
    from tui.widgets.progress_panel import format_metrics

    line = format_metrics({"loss": 2.3123, "tokens_per_s": 412.3, "bpc": 1.5, "eta_s": 185.2})
    assert line == "training loss 2.312 · 412 tok/s · held-out bits/char 1.5 · ETA 3:05"
