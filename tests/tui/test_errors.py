"""Errors say what went wrong in kit's face-neutral words, and each face says the next step its own way
(issue 15, point 4): the app as a screen, key and button, the CLI as a command. Real workspaces,
a real child process, the real CLI.
"""

from __future__ import annotations

from click.testing import CliRunner
from textual.widgets import Button, Input, Static

from kit import jobs
from kit.cli import main as cli
from kit.errors import NEXT_STEPS, WorkspaceError
from kit.workspace import Workspace
from tui_helpers import settle
from tui.app import TaalkitApp
from tui.next_steps import STEPS
from tui.screens.export import ExportScreen
from tui.widgets.error_modal import ErrorModal

#: Words of the CLI that must never appear inside the app.
CLI_WORDS = ("taalkit ", "--model", "--resume", "pass --")


def _text(widget) -> str:
    return str(widget.render())


async def test_chat_without_an_export_says_the_next_step_as_a_screen_and_goes_there(snap_workspace):
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        box = app.screen.query_one("#chat-input", Input)
        box.value = "Shwmae"
        box.focus()
        await pilot.press("enter")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ErrorModal), modal
        said = _text(modal.query_one("#error-message")) + " " + _text(modal.query_one("#error-next"))
        assert "no exported model" in said and "Export (F5)" in said, said
        assert not any(word in said for word in CLI_WORDS), said
        assert "Export" in str(modal.query_one("#error-go", Button).label)
        await pilot.click("#error-go")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        await pilot.press("f6")
        await pilot.pause()
        status = _text(app.screen.query_one("#chat-status", Static))
        assert "Export (F5)" in status and not any(word in status for word in CLI_WORDS), status


def test_the_cli_says_the_same_errors_as_commands(snap_workspace):
    from kit.cli.next_steps import say
    from kit.infer.default_model import resolve_model

    result = CliRunner().invoke(cli, ["-w", str(snap_workspace), "tokenizer", "train"])
    assert result.exit_code == 2
    assert "error: the workspace has no source model yet; add one with 'taalkit model add default'" in result.output
    ws = Workspace.open(snap_workspace)
    try:
        resolve_model(ws)
    except WorkspaceError as err:
        assert str(err) == "this workspace has no exported model yet" and err.next_step == "choose_gguf"
        assert say(err) == "this workspace has no exported model yet; run 'taalkit export' or pass --model FILE.gguf"
    else:
        raise AssertionError("an empty workspace resolved a model to load")
    finally:
        ws.close()


def test_a_child_process_error_keeps_its_next_step(tmp_path):
    """The app's heavy stages run as CLI child processes; their error comes back with its step id,
    not in the CLI's words."""
    root = tmp_path / "ws"
    Workspace.init(root, source="en", target="cy").close()
    try:
        jobs.transtokenize(root)
    except WorkspaceError as err:
        assert err.next_step in ("add_model", "train_tokenizer"), (err, err.next_step)
        assert not any(word in str(err) for word in CLI_WORDS), str(err)
    else:
        raise AssertionError("trans-tokenizing an empty workspace did not fail")
    log = sorted((root / "logs").glob("job-transtokenize-*.log"))[-1].read_text(encoding="utf-8")
    assert "error: " in log and "'taalkit " in log  # the CLI itself still words it as a command


def test_every_next_step_has_words_in_both_faces():
    from kit.cli.next_steps import COMMANDS

    assert set(STEPS) == set(COMMANDS) == set(NEXT_STEPS)
    for step in STEPS.values():
        assert not any(word in step.words for word in CLI_WORDS), step
