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

from typing import Optional

from .glossary import WORD_RE, DictionaryLookup

DRAFT_LABEL = "Word by word"
PROMPT_META = "translation_prompt"
# Used when no fine-tune has said how it trained (the default recipe of kit.finetune.data).
DEFAULT_DRAFT = True


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


def draft_instruction(instruction: str, draft: Optional[str]) -> str:
    """The translation request with the word-by-word draft on a line of its own (none: unchanged)."""
    if not draft or not draft.strip():
        return instruction
    return f"{instruction}\n{DRAFT_LABEL}: {' '.join(draft.split())}"


def uses_draft(ws) -> bool:
    """Whether this workspace's translation prompt carries the draft (what its fine-tune trained on)."""
    recorded = ws.meta(PROMPT_META, None) or {}
    return bool(recorded.get("draft", DEFAULT_DRAFT))


def record_prompt(ws, *, draft: bool) -> None:
    """Say how the fine-tune asked for translations, so ``kit.infer`` asks the same way."""
    ws.set_meta(**{PROMPT_META: {"draft": bool(draft)}})
