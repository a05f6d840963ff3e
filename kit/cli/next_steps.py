"""The CLI's words for what to do after an error: ``kit.errors.NEXT_STEPS`` as commands.

A kit error says what went wrong and carries a ``next_step`` id; this face says it as the
command to type (the app says it as a screen and key: ``tui/next_steps.py``).
"""

from __future__ import annotations

from ..errors import NEXT_STEPS, TaalkitError

COMMANDS = {
    "create_workspace": "create one with 'taalkit init FOLDER --source en --target xx'",
    "import_dictionary": "import one with 'taalkit dict import FILE'",
    "import_text": "import some with 'taalkit corpus import FILE'",
    "add_model": "add one with 'taalkit model add default'",
    "train_tokenizer": "run 'taalkit tokenizer train'",
    "transtokenize": "run 'taalkit transtokenize' first",
    "finetune": "start a new run with 'taalkit finetune'",
    "resume": "continue with 'taalkit finetune --resume'",
    "export": "run 'taalkit export'",
    "choose_gguf": "run 'taalkit export' or pass --model FILE.gguf",
}
assert set(COMMANDS) == set(NEXT_STEPS), "every next step needs the CLI's words"


def say(error: TaalkitError) -> str:
    """The error's one line as the CLI prints it: what went wrong, then the command that helps."""
    step = getattr(error, "next_step", None)
    return f"{error}; {COMMANDS[step]}" if step in COMMANDS else str(error)
