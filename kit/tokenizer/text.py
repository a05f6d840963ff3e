"""The target-language text a tokenizer learns from and is measured on.

Training text is everything the workspace holds *in the target language* and that no
evaluation uses: the train split of the corpora (monolingual lines and the target side of
parallel pairs) plus the dictionary's target-language words (headwords of target→source
entries, translations of source→target entries), each distinct word once. Dictionary words
matter for a small language: they add vocabulary the UI-string corpus never shows.

By default the tokenizer also learns the words the model will be *asked* in: the source side of the
parallel pairs and the prompt around a translation request (the chat template's default system
prompt, role names, "Translate to Welsh:"). A target-only vocabulary shreds English into letters
("Y ou ar e a help fu l"), so the adapted model can hardly read the instruction or the sentence to
translate and echoes it. Those English words are mostly strings the source vocabulary has, so
trans-tokenization copies their rows exactly. Measured on the Welsh demo (5-minute CPU fine-tune,
40 test pairs): chrF en→cy 9.7 → 22.9, cy→en 11.4 → 14.7, held-out Welsh bits per char after the
fine-tune 2.797 → 2.733, at 11,776 instead of 9,024 tokens. ``target_only=True`` gives the old vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..corpus import heldout_texts, source_texts, target_texts
from ..dictionary.pairs import words_in
from ..errors import InputFormatError, WorkspaceError
from ..workspace import Workspace

WORD_RE = re.compile(r"\w+")
# Above this many characters the training text is sampled (seeded): BPE statistics settle
# long before, and a laptop's RAM does not grow with the corpus.
MAX_TRAIN_CHARS = 200_000_000
# How often the prompt text counts: BPE merges by frequency, and a fine-tune shows these words in
# every translation example, so they must be frequent enough to become whole tokens.
PROMPT_REPEATS = 50


@dataclass
class TrainingText:
    texts: list[str]
    segments: int
    dictionary_words: int
    source_texts: int = 0  # source-language sentences and prompt text (see the module docstring)

    @property
    def chars(self) -> int:
        return sum(len(t) for t in self.texts)


def training_text(ws: Workspace, *, target_only: bool = True, source_folder: Optional[Path] = None) -> TrainingText:
    """The workspace's training text: target language, plus the source side and prompts unless
    ``target_only`` (see the module docstring; ``source_folder`` holds the chat template)."""
    segments = target_texts(ws, "train")
    lang = ws.target_lang
    words = words_in(ws, lang)
    texts = [t for t in segments if t and t.strip()] + words
    if not texts:
        raise WorkspaceError(f"the workspace has no {lang} text to train a tokenizer on; import a corpus "
                             "('taalkit corpus import') or a dictionary ('taalkit dict import') first")
    extra = [] if target_only else source_side_text(ws) + prompt_text(ws, source_folder) * PROMPT_REPEATS
    return TrainingText(texts + extra, len(segments), len(words), len(extra))


def source_side_text(ws: Workspace) -> list[str]:
    """The source-language side of the train split's parallel pairs (what users will ask to translate)."""
    return source_texts(ws, "train")


def prompt_text(ws: Workspace, source_folder: Optional[Path]) -> list[str]:
    """The words around a translation request in both directions, as the chat template renders them,
    with the special tokens taken out (they are whole tokens already)."""
    from ..langs import translation_instruction

    requests = [translation_instruction("", ws.target_lang).strip(),
                translation_instruction("", ws.source_lang).strip()]
    if source_folder is None:
        return requests
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(source_folder), local_files_only=True)
    if not getattr(tok, "chat_template", None):
        return requests
    specials = sorted(set(tok.all_special_tokens) | set(tok.get_added_vocab()), key=len, reverse=True)
    out = []
    for request in requests:
        rendered = tok.apply_chat_template([{"role": "user", "content": request}], tokenize=False,
                                           add_generation_prompt=True)
        for special in specials:
            rendered = rendered.replace(special, "\n")
        out.append("\n".join(line.strip() for line in rendered.splitlines() if line.strip()))
    return out


def heldout_text(ws: Workspace) -> list[str]:
    """Held-out target text of the workspace (never trained on), for measuring tokenizers."""
    return heldout_texts(ws)


def read_text_file(path: Path | str, column: Optional[int] = None) -> list[str]:
    """Lines of a text file; for a TSV, column ``column`` (1-based) or else the last one.

    The last column is the target side of the usual ``source<TAB>target`` files.
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = raw_line_of(path, err.start)
        raise InputFormatError(path, line, "not UTF-8 text") from None
    except OSError as err:
        raise WorkspaceError(f"{path}: cannot read ({err.strerror})") from None
    out = []
    for number, line in enumerate(raw.splitlines(), 1):
        if column is None:
            text = line.rsplit("\t", 1)[-1]
        else:
            cols = line.split("\t")
            if len(cols) < column and line.strip():
                raise InputFormatError(path, number, f"expected at least {column} tab-separated columns, "
                                                     f"found {len(cols)}")
            text = cols[column - 1] if len(cols) >= column else ""
        if text.strip():
            out.append(text.strip())
    if not out:
        raise InputFormatError(path, None, "no text in the file")
    return out


def raw_line_of(path: Path, offset: int) -> Optional[int]:
    with open(path, "rb") as f:
        return f.read(offset).count(b"\n") + 1


def count_words(texts: list[str]) -> tuple[int, int]:
    """(words, distinct words): runs of letters/digits, the unit fertility is measured in."""
    total, distinct = 0, set()
    for t in texts:
        found = WORD_RE.findall(t)
        total += len(found)
        distinct.update(found)
    return total, len(distinct)
