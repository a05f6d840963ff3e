"""The target-language text a tokenizer learns from and is measured on.

Training text is everything the workspace holds *in the target language* and that no
evaluation uses: the train split of the corpora (monolingual lines and the target side of
parallel pairs) plus the dictionary's target-language words (headwords of target→source
entries, translations of source→target entries), each distinct word once. Dictionary words
matter for a small language: they add vocabulary the UI-string corpus never shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import InputFormatError, WorkspaceError
from ..workspace import Workspace

WORD_RE = re.compile(r"\w+")
# Above this many characters the training text is sampled (seeded): BPE statistics settle
# long before, and a laptop's RAM does not grow with the corpus.
MAX_TRAIN_CHARS = 200_000_000


@dataclass
class TrainingText:
    texts: list[str]
    segments: int
    dictionary_words: int

    @property
    def chars(self) -> int:
        return sum(len(t) for t in self.texts)


def training_text(ws: Workspace) -> TrainingText:
    """The workspace's target-language training text (see the module docstring)."""
    segments = _corpus_texts(ws)
    lang = ws.target_lang
    seen: set[str] = set()
    words: list[str] = []
    rows = ws.db.execute(
        "select headword, id from entries where headword_lang = ? "
        "union all select translation, id from entries where translation_lang = ? order by 2", [lang, lang])
    for (word, _id) in rows:
        if word and word not in seen:
            seen.add(word)
            words.append(word)
    texts = [t for t in segments if t and t.strip()] + words
    if not texts:
        raise WorkspaceError(f"the workspace has no {lang} text to train a tokenizer on; import a corpus "
                             "('taalkit corpus import') or a dictionary ('taalkit dict import') first")
    return TrainingText(texts, len(segments), len(words))


def _corpus_texts(ws: Workspace) -> list[str]:
    try:
        from ..corpus import target_texts
    except ImportError:  # the corpus stage not installed: read its table directly
        return [r[0] for r in ws.db.execute(
            "select target_text from segments where split = 'train' and target_text is not null order by id")]
    return target_texts(ws, "train")


def heldout_text(ws: Workspace) -> list[str]:
    """Held-out target text of the workspace (never trained on), for measuring tokenizers."""
    rows = ws.db.execute("select target_text from segments where split = 'heldout' and target_text is not null "
                         "and trim(target_text) != '' order by id")
    return [r[0] for r in rows]


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
