"""Every action is on screen at 80×24, the footer keeps F1–F7 at 100 columns, and Chat and
Translate say which model answers (issue 15, point 6). The real app on a real workspace.

"On screen" means the whole widget is drawn: inside the terminal and not clipped by a scrolling
container, so a user sees it without scrolling.
"""

from __future__ import annotations

import pytest
from textual.widgets import Button, Static
from textual.widgets._footer import FooterKey

from tui_helpers import settle
from tui.app import JOURNEY, TaalkitApp
from tui.screens.base import KitScreen

KitScreenBindings = list(KitScreen.BINDINGS)


def fully_visible(widget) -> bool:
    """Whether the whole of ``widget`` is drawn on screen right now."""
    visible = widget.screen._compositor.visible_widgets
    if widget not in visible:
        return False
    region, clip = visible[widget]
    size = widget.app.size
    inside = region.x >= 0 and region.y >= 0 and region.right <= size.width and region.bottom <= size.height
    return inside and region.size == widget.outer_size and clip.contains_region(region)


SCREENS = [key for _mode, _title, key in JOURNEY]


@pytest.mark.parametrize("key", SCREENS)
async def test_every_action_button_is_on_screen_at_80x24(snap_workspace, key):
    app = TaalkitApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(key)
        await settle(pilot)
        buttons = [b for b in app.screen.query(Button) if b.display and b.parent.display]
        assert buttons, f"{key}: no buttons found"
        hidden = [b.id or str(b.label) for b in buttons if not fully_visible(b)]
        assert not hidden, f"{key}: buttons off screen or clipped at 80x24: {hidden}"


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_every_screen_key_and_every_footer_key_is_whole(snap_workspace, size):
    """The journey bar holds F1–F7 whole; the footer, left to each screen's own keys, cuts none."""
    app = TaalkitApp()
    async with app.run_test(size=size) as pilot:
        for key in SCREENS:
            await pilot.press(key)
            await settle(pilot)
            bar = app.screen.query_one("#journey", Static)
            assert fully_visible(bar)
            text = str(bar.render())
            assert text.rstrip() == text.rstrip()[: size[0] - 2].rstrip(), f"{size}: the journey bar is cut: {text!r}"
            missing = [k.upper() for k in ["f1", *SCREENS] if k.upper() not in text]
            assert not missing, f"{size}, on {key}: the journey bar lacks {missing}"
            keys = list(app.screen.query(FooterKey))
            assert keys, f"{key}: an empty footer"
            cut = [k.description or k.key for k in keys if not fully_visible(k)]
            assert not cut, f"{size}, on {key}: the footer cuts {cut}"
            regions = {k.key: app.screen._compositor.visible_widgets[k][0] for k in keys}
            overlaps = [(a, b) for a in regions for b in regions if a < b and regions[a].overlaps(regions[b])]
            assert not overlaps, f"{size}, on {key}: footer keys drawn over each other: {overlaps}"


async def test_chat_and_translate_say_which_model_answers(snap_workspace):
    from kit.workspace import Workspace

    ws = Workspace.open(snap_workspace)
    try:
        model = ws.db["models"].insert({"name": "cy-finetuned", "role": "finetuned", "path": "models/x",
                                        "created_at": "2026-01-01T00:00:00+00:00"}).last_pk
        ws.db["exports"].insert({"model_id": model, "path": "gguf/cy-finetuned-Q8_0.gguf", "quant": "Q8_0",
                                 "size_bytes": 1, "created_at": "2026-01-01T00:00:00+00:00"})
    finally:
        ws.close()
    app = TaalkitApp()
    async with app.run_test(size=(80, 24)) as pilot:
        for key, line_id in (("f6", "#chat-model"), ("f7", "#translate-model")):
            await pilot.press(key)
            await settle(pilot)
            line = app.screen.query_one(line_id, Static)
            assert "cy-finetuned-Q8_0.gguf" in str(line.render()), (key, str(line.render()))
            assert fully_visible(line), f"{key}: the model line is off screen at 80x24"


#: Each screen's buttons and the key binding (by id) that does the same; Help lists them all.
BUTTON_KEYS = {
    "home": {"create": "home.new", "open": "home.open"},
    "dictionary": {"import-dictionary": "dictionary.import", "import-corpus": "dictionary.import_text"},
    "adapt": {"add-model": "adapt.add_model", "train-tokenizer": "adapt.train_tokenizer",
              "transtokenize": "adapt.transtokenize", "finetune": "adapt.finetune", "resume": "adapt.resume",
              "stop": "job.stop"},
    "export": {"export": "export.run"},
    "chat": {"new-chat": "chat.new", "copy": "chat.copy", "stop-reply": "job.stop", "send": None},  # Enter sends
    "translate": {"swap": "translate.swap", "translate": "translate.run", "translate-file": "translate.file"},
}


async def test_every_button_has_a_key(snap_workspace):
    app = TaalkitApp()
    async with app.run_test(size=(100, 30)) as pilot:
        for mode, _title, key in JOURNEY:
            await pilot.press(key)
            await pilot.pause()
            screen = app.screen
            ids = {b.id: b for b in type(screen).BINDINGS + KitScreenBindings}
            buttons = {b.id for b in screen.query(Button)}
            assert buttons == set(BUTTON_KEYS[mode]), (mode, buttons)
            for button, binding in BUTTON_KEYS[mode].items():
                assert binding is None or binding in ids, f"{mode}: the {button} button has no key"
