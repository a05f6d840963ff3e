"""Save an SVG screenshot of every screen at 80x24, 100x30 and 200x50 into docs/screens/.

    .venv/bin/python docs/screens/make_screens.py WORKSPACE

WORKSPACE should have gone through the journey (e.g. ``taalkit demo``'s, or the one
tests/tui/test_journey.py builds), so every screen has something to show. The committed
pictures were taken on a Welsh workspace with a trans-tokenized SmolLM2-135M (Q4_0 export,
not fine-tuned): its replies are what that model really says.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

from textual.worker import WorkerFailed

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from tui.app import TaalkitApp  # noqa: E402

SIZES = {"80x24": (80, 24), "100x30": (100, 30), "200x50": (200, 50)}


async def settle(pilot) -> None:
    with contextlib.suppress(WorkerFailed):
        await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.3)


async def shoot(workspace: Path, label: str, size: tuple[int, int]) -> None:
    app = TaalkitApp(workspace=workspace, start_dir=REPO / "data")
    async with app.run_test(size=size) as pilot:
        async def save(name: str) -> None:
            await settle(pilot)
            app.save_screenshot(f"{name}-{label}.svg", path=str(HERE))

        await save("home")
        await pilot.press("f3")
        app.screen.query_one("#search").value = "dŵr"
        await save("dictionary")
        await pilot.press("f4")
        await save("adapt")
        await pilot.press("f5")
        await save("export")
        await pilot.press("f6")
        await pilot.pause()
        history = app.screen.query_one("#conversations")
        if len(history):
            history.index = 0
            history.action_select_cursor()
        else:
            box = app.screen.query_one("#chat-input")
            box.value = "Shwmae! Beth yw'r tywydd heddiw?"
            box.focus()
            await pilot.press("enter")
        await save("chat")
        await pilot.press("f7")
        app.screen.query_one("#source-text").text = "The water is cold."
        await pilot.press("ctrl+t")
        await save("translate")
        await pilot.press("f1")
        await save("help")


def main() -> None:
    workspace = Path(sys.argv[1]).resolve()
    for label, size in SIZES.items():
        asyncio.run(shoot(workspace, label, size))
    print("\n".join(sorted(p.name for p in HERE.glob("*.svg"))))


if __name__ == "__main__":
    main()
