"""The dictionary word-by-word baseline: what the dictionary alone gives, with no model at all.

Each word is replaced by its first dictionary translation (same lookup as the glossary);
words the dictionary lacks, numbers, punctuation and placeholders stay as they are. It is
a floor the adapted model must beat in ``taalkit eval``.
"""

from __future__ import annotations

from typing import Optional

from .glossary import WORD_RE, DictionaryLookup


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
