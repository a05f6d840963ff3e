"""Escape during fine-tuning leaves a resumable run; Resume finishes it (tiny real model)."""

from __future__ import annotations

from textual.widgets import Input

from tui_helpers import settle
from tui.app import TaalkitApp
from tui.screens.adapt import AdaptScreen
from tui.widgets.error_modal import ErrorModal
from tui.widgets.loss_plot import LossPlot


async def test_escape_stops_fine_tuning_and_resume_finishes_it(workspace, demo_data, tiny_llama_dir):
    import torch

    from kit.corpus import import_corpus

    torch.set_num_threads(1)
    import_corpus(workspace, demo_data / "cy" / "test_en_cy.tsv", kind="parallel")
    # The base model is registered the way the models stage records it (role 'source').
    workspace.db["models"].insert({"name": "source", "role": "source", "path": str(tiny_llama_dir)})
    app = TaalkitApp(workspace=workspace.root)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AdaptScreen)
        screen.query_one("#steps", Input).value = "30"
        await pilot.click("#finetune")
        plot = screen.query_one(LossPlot)
        for _ in range(600):  # until the first training step has been drawn
            await pilot.pause(0.05)
            if plot.loss:
                break
        assert plot.loss, "no training step was reported"
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ErrorModal), "a stop is not an error"
        # Read to the end: a half-read cursor would keep this connection on an old snapshot.
        run = list(workspace.db["runs"].rows_where(order_by="id desc"))[0]
        assert run["status"] == "stopped" and 0 < run["step"] < 30
        assert "Resume" in str(screen.query_one(".progress-detail").render())

        await pilot.click("#resume")
        await settle(pilot)
        if isinstance(app.screen, ErrorModal):
            raise AssertionError(app.screen.message)
        run = workspace.db["runs"].get(run["id"])
        assert run["status"] == "finished" and run["step"] == 30
        assert app.workspace.checklist()["fine-tuned"]
