"""The taalkit app: the whole journey, from a dictionary file to chatting, on a few screens.

Each step of the pipeline is one screen (a Textual *mode*, so each keeps its state
when you leave it): Home, Dictionary, Adapt, Export, Chat, Translate; F1 is Help.
The app holds which workspace is open; the screens call ``kit`` for everything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from textual.app import App
from textual.binding import Binding

from kit.errors import TaalkitError

from .commands import TaalkitCommands
from .journey import JOURNEY
from .screens.adapt import AdaptScreen
from .screens.chat import ChatScreen
from .screens.dictionary import DictionaryScreen
from .screens.export import ExportScreen
from .screens.help import HelpScreen
from .screens.home import HomeScreen
from .screens.translate import TranslateScreen

class TaalkitApp(App):
    """Adapt a small LLM to your language, offline, then chat and translate with it."""

    TITLE = "taalkit"
    CSS_PATH = "app.tcss"
    MODES = {
        "home": HomeScreen,
        "dictionary": DictionaryScreen,
        "adapt": AdaptScreen,
        "export": ExportScreen,
        "chat": ChatScreen,
        "translate": TranslateScreen,
    }
    DEFAULT_MODE = "home"
    COMMANDS = App.COMMANDS | {TaalkitCommands}
    BINDINGS = [
        # Priority: the text editors use some F-keys themselves (TextArea: F6, F7).
        Binding("f1", "help", "Help", id="app.help", priority=True, show=False),
        # The journey keys are shown by each screen's JourneyBar, so the footer keeps room for the screen's own.
        *(Binding(key, f"switch_mode('{mode}')", title, id=f"app.{mode}", priority=True, show=False)
          for mode, title, key in JOURNEY),
        # Listed in Help and the palette; the footer keeps its room for the screen's own keys.
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True, show=False),
    ]

    #: Run the heavy stages (trans-tokenize, fine-tune, export) in a thread of this process instead of
    #: a child process (kit.jobs). The child process is the default: the UI keeps a core and the GIL to
    #: itself. bench/ui_latency.py sets True to measure the old design beside the new.
    stages_in_process = False

    def __init__(self, workspace: Optional[os.PathLike | str] = None, *, start_dir: Optional[Path] = None) -> None:
        super().__init__()
        self.workspace_root: Optional[Path] = None
        self._workspace = None
        #: Where the file picker starts (the demo data folder when run from a checkout).
        self.start_dir = Path(start_dir) if start_dir else Path.cwd()
        self._initial_workspace = Path(workspace) if workspace else None

    def on_mount(self) -> None:
        from kit.workspace import default_workspace_path

        candidate = self._initial_workspace or default_workspace_path()
        if (candidate / "taalkit.db").exists():
            try:
                self.open_workspace(candidate)
            except TaalkitError as err:
                self.notify(str(err), severity="error")
        elif self._initial_workspace is not None:
            self.notify(f"{candidate} is not a workspace yet: create it on Home.", severity="warning")

    # -- the open workspace (UI thread only; workers open their own) ---------------------
    @property
    def workspace(self):
        return self._workspace

    def open_workspace(self, path: os.PathLike | str):
        from kit.workspace import Workspace

        ws = Workspace.open(path)
        self._set_workspace(ws)
        return ws

    def create_workspace(self, path: os.PathLike | str, source: str, target: str):
        from kit.workspace import Workspace

        ws = Workspace.init(path, source=source, target=target)
        self._set_workspace(ws)
        return ws

    def _set_workspace(self, ws) -> None:
        if self._workspace is not None:
            self._workspace.close()
        self._workspace = ws
        self.workspace_root = ws.root
        screen = self.screen
        if hasattr(screen, "reload"):  # the others reload when shown next (KitScreen.on_screen_resume)
            screen.reload()

    def on_unmount(self) -> None:
        if self._workspace is not None:
            self._workspace.close()

    # -- actions ----------------------------------------------------------------------
    def action_help(self) -> None:
        """F1 opens Help, and closes it again."""
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        else:
            self.push_screen(HelpScreen())

    def goto(self, mode: str, action: Optional[str] = None) -> None:
        """Switch to a screen and, optionally, run one of its actions there (palette entries)."""
        self.switch_mode(mode)
        if action:
            self.call_after_refresh(lambda: self.run_action(action, self.screen))


def run_app(workspace: Optional[os.PathLike | str] = None) -> None:
    """Open the app (``taalkit`` with no verb); ``workspace`` is a folder or None for the default."""
    TaalkitApp(workspace=workspace).run()
