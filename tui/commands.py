"""Command palette (Ctrl+P) entries for every action in the app, found by typing words."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

#: (title, help, mode, action on that screen or None)
ACTIONS = (
    ("Home: workspaces and checklist", "See where each workspace stands", "home", None),
    ("Create workspace", "Make a new workspace for a language pair", "home", "focus_create"),
    ("Open workspace…", "Open an existing workspace folder", "home", "open_workspace"),
    ("Dictionary: search entries", "Search the imported dictionary both ways", "dictionary", "focus_search"),
    ("Import dictionary…", "Import a dictionary file (dictd, TSV, bidix)", "dictionary", "import_dictionary"),
    ("Import text…", "Import parallel or monolingual text", "dictionary", "import_corpus"),
    ("Add base model", "Copy the base model into the workspace", "adapt", "add_model"),
    ("Train tokenizer", "Train a tokenizer for your language", "adapt", "train_tokenizer"),
    ("Trans-tokenize", "Give the model your language's vocabulary", "adapt", "transtokenize"),
    ("Fine-tune", "Train briefly on your language's text", "adapt", "finetune"),
    ("Resume fine-tuning", "Carry on from the last checkpoint", "adapt", "resume"),
    ("Export to GGUF", "Write and quantize a GGUF file, then verify it", "export", "export"),
    ("Chat: new conversation", "Start a new conversation", "chat", "new_conversation"),
    ("Chat: copy last reply", "Copy the last reply to the clipboard", "chat", "copy_reply"),
    ("Chat: edit system prompt", "Change what the model is told before you speak", "chat", "focus_system"),
    ("Chat: past conversations", "Open an earlier conversation (Ctrl+L)", "chat", "focus_history"),
    ("Translate", "Translate the text in the left pane", "translate", "translate"),
    ("Translate: swap direction", "Switch source and target language", "translate", "swap"),
    ("Translate a file…", "Translate a text file line by line", "translate", "translate_file"),
    ("Help", "Keys and the journey (F1)", None, "help"),
    ("Quit", "Leave taalkit", None, "quit"),
)


class TaalkitCommands(Provider):
    """Every action the screens offer, reachable from anywhere by name."""

    def _run(self, mode, action) -> None:
        app = self.app
        if mode is None:
            app.run_action(action)
        else:
            app.goto(mode, action)

    async def discover(self) -> Hits:
        for title, help_text, mode, action in ACTIONS:
            yield DiscoveryHit(title, partial(self._run, mode, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, mode, action in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, mode, action), help=help_text)
