"""The app's words for what to do after an error: ``kit.errors.NEXT_STEPS`` as a screen and key.

A kit error says what went wrong and carries a ``next_step`` id; the CLI words it as a command
(``kit.cli.next_steps``), the app as the screen to open, which the error dialog offers as a button.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from kit.errors import NEXT_STEPS


class Step(NamedTuple):
    mode: str    # the screen (app mode) where it is done
    button: str  # the dialog's button that opens it
    words: str   # one sentence for someone who has never used a command line


STEPS = {
    "create_workspace": Step("home", "Go to Home (F2)", "Create or open a workspace on Home (F2)."),
    "import_dictionary": Step("dictionary", "Go to Dictionary (F3)", "Import a dictionary on Dictionary (F3)."),
    "import_text": Step("dictionary", "Go to Dictionary (F3)",
                        "Import some text on Dictionary (F3): sentence pairs, or your language alone."),
    "add_model": Step("adapt", "Go to Adapt (F4)", "Add the base model on Adapt (F4), step 1."),
    "train_tokenizer": Step("adapt", "Go to Adapt (F4)", "Train the tokenizer on Adapt (F4), step 2."),
    "transtokenize": Step("adapt", "Go to Adapt (F4)",
                          "Adapt the base model's vocabulary on Adapt (F4), step 3 (Run)."),
    "finetune": Step("adapt", "Go to Adapt (F4)", "Start a new fine-tune on Adapt (F4)."),
    "resume": Step("adapt", "Go to Adapt (F4)", "Press Resume (Ctrl+R) on Adapt (F4) to carry on."),
    "export": Step("export", "Go to Export (F5)", "Export the model on Export (F5)."),
    "choose_gguf": Step("export", "Go to Export (F5)", "Export the model on Export (F5); Chat and "
                        "Translate then load it."),
}
assert set(STEPS) == set(NEXT_STEPS), "every next step needs the app's words"


def step_for(error: BaseException) -> Optional[Step]:
    return STEPS.get(getattr(error, "next_step", None) or "")
