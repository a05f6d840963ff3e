"""The dictionary word-by-word baseline, and the same draft as a hint in the translation prompt.

Each word is replaced by its first dictionary translation (same lookup as the glossary);
words the dictionary lacks, numbers, punctuation and placeholders stay as they are. It is
a floor the adapted model must beat in ``taalkit eval``.

Why the draft also goes into the prompt ("post-editing"): a briefly tuned small model writes
poor target-language text on its own, but copying a draft and fixing its word order, senses
and inflection is a much easier task — one a pretrained body already half knows (it copies
spans from its context). The fine-tune trains on ``Translate to Welsh: SRC`` + the draft line
(kit.finetune.data) and the translator asks the same way (kit.infer.translate), so both build
that text here. Whether a workspace's models were trained with the draft is stored in the
workspace (``workspace_meta`` key ``translation_prompt``) by the fine-tune that used it, so
inference asks the way the model learned.
"""

from __future__ import annotations

from typing import Optional, Sequence

from .glossary import WORD_RE, DictionaryLookup
from .memory import memory_lines

DRAFT_LABEL = "Word by word"
PROMPT_META = "translation_prompt"
# Used when no fine-tune has said how it trained (the default recipe of kit.finetune.data).
DEFAULT_DRAFT = True
# Translation-memory pairs shown in each request (kit.finetune.plan RECIPE_DEFAULTS "memory"). 0: the
# memory serves the consensus and the fallback, not the request. Measured with the consensus on, the
# 10-CPU-minute model trained with 2 pairs per request: chrF en→cy / cy→en on lines 401-450 44.4 / 43.1
# with the pairs shown, 45.0 / 43.0 without; on the reported lines 1-100 45.9 / 45.2 vs 47.0 / 47.9.
DEFAULT_MEMORY = 0


def word_by_word(ws, text: str, *, source_lang: str, target_lang: str,
                 lookup: Optional[DictionaryLookup] = None) -> str:
    lookup = lookup or DictionaryLookup(ws, source_lang, target_lang)

    def replace(match) -> str:
        word = match.group(0)
        found = lookup.lookup(word, per_word=1)
        if not found:
            return word
        translation = found[0].translation.split(";")[0].split(",")[0].strip()
        if word[:1].isupper() and translation[:1].islower():
            translation = translation[:1].upper() + translation[1:]
        return translation

    return WORD_RE.sub(replace, text)


def draft_instruction(instruction: str, draft: Optional[str], examples: Sequence = ()) -> str:
    """The translation request: the instruction, then the translation-memory examples
    (kit.infer.memory, ``Similar: source = target``), then the word-by-word draft, each on a line
    of its own (none of them: the instruction unchanged)."""
    lines = [instruction]
    if examples:
        lines.append(memory_lines(examples))
    if draft and draft.strip():
        lines.append(f"{DRAFT_LABEL}: {' '.join(draft.split())}")
    return "\n".join(lines)


def prompt_recipe(ws) -> dict:
    """How this workspace's fine-tune asked for translations: ``{"draft": bool, "memory": int}``
    (``memory``: translation-memory pairs per request). A workspace whose fine-tune recorded nothing
    gets the defaults; one recorded before the memory existed was trained without it (0)."""
    recorded = ws.meta(PROMPT_META, None)
    if recorded is None:
        return {"draft": DEFAULT_DRAFT, "memory": DEFAULT_MEMORY}
    return {"draft": bool(recorded.get("draft", DEFAULT_DRAFT)), "memory": int(recorded.get("memory", 0))}


def uses_draft(ws) -> bool:
    """Whether this workspace's translation prompt carries the draft (what its fine-tune trained on)."""
    return prompt_recipe(ws)["draft"]


def record_prompt(ws, *, draft: bool, memory: int = 0) -> None:
    """Say how the fine-tune asked for translations, so ``kit.infer`` asks the same way."""
    ws.set_meta(**{PROMPT_META: {"draft": bool(draft), "memory": int(memory)}})
