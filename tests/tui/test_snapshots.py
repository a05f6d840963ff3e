"""SVG snapshots of every screen (pytest-textual-snapshot); update with --snapshot-update.

Each snapshot is a picture a person reviewed once; a change to any screen's layout
fails here until it is looked at again.
"""

from __future__ import annotations

from kit.errors import InputFormatError
from tui_helpers import MIXED_SCRIPT, add_conversation, settle
from tui.app import TaalkitApp
from tui.widgets.error_modal import ErrorModal
from tui.widgets.file_picker import FilePicker

SMALL = (100, 30)
LARGE = (200, 50)


async def steady(pilot) -> None:
    """Stop cursors blinking so the picture does not depend on when it is taken."""
    for screen in pilot.app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            widget.cursor_blink = False
    await pilot.pause()


def keys(*names):
    async def run(pilot):
        await pilot.press(*names)
        await steady(pilot)
    return run


def test_home_without_workspace(no_workspace, snap_compare):
    assert snap_compare(TaalkitApp(), run_before=steady, terminal_size=SMALL)


def test_home(snap_workspace, snap_compare):
    assert snap_compare(TaalkitApp(), run_before=steady, terminal_size=SMALL)


def test_home_large(snap_workspace, snap_compare):
    assert snap_compare(TaalkitApp(), run_before=steady, terminal_size=LARGE)


def test_dictionary(snap_workspace, snap_compare):
    assert snap_compare(TaalkitApp(), run_before=keys("f3"), terminal_size=SMALL)


async def open_adapt(pilot):
    await pilot.press("f4")
    await settle(pilot)
    await steady(pilot)


def test_adapt(snap_workspace, snap_compare):
    assert snap_compare(TaalkitApp(), run_before=open_adapt, terminal_size=SMALL)


def test_adapt_large(snap_workspace, snap_compare):
    assert snap_compare(TaalkitApp(), run_before=open_adapt, terminal_size=LARGE)


def test_export(snap_workspace, snap_compare):
    assert snap_compare(TaalkitApp(), run_before=keys("f5"), terminal_size=SMALL)


def test_chat_with_history_in_three_scripts(snap_workspace, snap_compare):
    add_conversation(snap_workspace, [("user", "Sut mae? " + MIXED_SCRIPT), ("assistant", "Da iawn, diolch! ŵ ŷ")])

    async def open_history(pilot):
        await pilot.press("f6")
        await pilot.pause()
        await pilot.click("#conversations")
        await pilot.press("enter")
        await steady(pilot)

    assert snap_compare(TaalkitApp(), run_before=open_history, terminal_size=SMALL)


def test_translate_with_mixed_scripts(snap_workspace, snap_compare):
    async def type_text(pilot):
        await pilot.press("f7")
        await pilot.pause()
        pilot.app.screen.query_one("#source-text").text = MIXED_SCRIPT
        await steady(pilot)

    assert snap_compare(TaalkitApp(), run_before=type_text, terminal_size=SMALL)


def test_help(snap_workspace, snap_compare):
    assert snap_compare(TaalkitApp(), run_before=keys("f1"), terminal_size=SMALL)


def test_error_modal(snap_workspace, snap_compare):
    async def fail(pilot):
        error = InputFormatError("data/cy/broken.tsv", 812, "expected word<TAB>translation, found 1 column")
        pilot.app.push_screen(ErrorModal("Dictionary: import dictionary did not finish", error))
        await steady(pilot)

    assert snap_compare(TaalkitApp(), run_before=fail, terminal_size=SMALL)


def test_file_picker(snap_workspace, snap_compare):
    folder = snap_workspace.parent / "downloads"  # a folder whose listing never changes
    (folder / "dictd").mkdir(parents=True)
    for name in ("dictd/freedict-cym-eng.index", "geiriadur.tsv", "testun_cy.txt"):
        (folder / name).write_text("x\ty\n", encoding="utf-8")

    async def pick(pilot):
        pilot.app.push_screen(FilePicker("Choose a dictionary file", folder))
        await pilot.pause(0.3)
        await steady(pilot)

    assert snap_compare(TaalkitApp(), run_before=pick, terminal_size=SMALL)


TINY = (80, 24)


def test_adapt_80x24(snap_workspace, snap_compare):
    """The smallest terminal the app promises: every Adapt action (fine-tune, resume, stop) on screen."""
    assert snap_compare(TaalkitApp(), run_before=open_adapt, terminal_size=TINY)


def test_export_80x24(snap_workspace, snap_compare):
    assert snap_compare(TaalkitApp(), run_before=keys("f5"), terminal_size=TINY)
