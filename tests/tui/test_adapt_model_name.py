"""Adding a base model whose name is taken: the app shows the kit's message, and it names no CLI option."""

from __future__ import annotations

from tui_helpers import settle
from tui.app import TaalkitApp
from tui.screens.adapt import AdaptScreen
from tui.widgets.error_modal import ErrorModal


async def test_a_taken_model_name_is_explained_without_cli_options(workspace):
    # A model called 'source' from other files is already in the workspace; the Adapt screen adds
    # the built-in model under that name. The clash is found after hashing, before any copying.
    workspace.db["models"].insert({"name": "source", "role": "source", "path": "models/source",
                                   "sha256": "0" * 64, "source_path": "/elsewhere/other-model"})
    app = TaalkitApp(workspace=workspace.root)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        assert isinstance(app.screen, AdaptScreen)
        await pilot.click("#add-model")
        await settle(pilot)
        assert isinstance(app.screen, ErrorModal), app.screen
        message = app.screen.message
    assert "already has a model named 'source'" in message and "/elsewhere/other-model" in message
    assert "another model name" in message and "new workspace" in message
    assert "--" not in message  # no command-line option: the app has none to offer
    assert not (workspace.models_dir / "source").exists()
