"""Look the input's words up in the workspace dictionary and build a compact glossary for the prompt.

A 135M model knows little of a low-resource language; the community's dictionary knows
a lot. Putting the few entries that matter for *this* sentence into the prompt is the
kit's strength over a bare model (``--no-glossary`` turns it off so its effect is measured).

Lookup per word, cheapest first: exact headword (case-insensitive, through ``entries_fts``),
then a lemma by prefix (``files`` -> ``file``, ``hysbysiadau`` -> ``hysbysiad``), then for
Welsh the radical of a mutated word (``ngwlad`` -> ``gwlad``, ``ddrws`` -> ``drws``), and
the reverse direction of a one-way dictionary. Two-word headwords are matched as phrases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)

# ISO 639-3 / names the importers may store, folded to the codes workspaces use.
LANG_ALIASES = {"cym": "cy", "wel": "cy", "eng": "en", "afr": "af", "fry": "fy", "nld": "nl", "dut": "nl"}

# Words a glossary never needs: every model knows them and they crowd the prompt.
STOPWORDS = {
    "en": set("a an the of to in on at by for from with and or but not no is are was were be been "
              "it its this that these those you your we our he she they them his her their i me my "
              "do does did has have had will would can could should may might if then than as so "
              "there here what which who whom how when where why all any some".split()),
    "cy": set("a ac y yr r i o yn ar am at gan ei eu ein eich fy dy mae yw oes ond neu na nad "
              "ni chi nhw fe fo hi e ti fi ydy".split()),
}



def lang_code(code: Optional[str]) -> str:
    code = (code or "").strip().lower()
    return LANG_ALIASES.get(code, code)


def lang_name(code: str) -> str:
    """The prompt's language name: the same table kit.finetune trains with (kit.langs)."""
    from ..langs import language_name

    return language_name(lang_code(code))


@dataclass(frozen=True)
class GlossaryEntry:
    word: str  # the word as it appears in the input
    headword: str  # the dictionary's headword it matched
    translation: str
    pos: str = ""
    how: str = "exact"  # exact | prefix | mutation | reverse | phrase

    def line(self) -> str:
        pos = f" ({self.pos})" if self.pos else ""
        return f"{self.headword} = {self.translation}{pos}"


@dataclass
class Glossary:
    entries: list[GlossaryEntry]
    source_lang: str
    target_lang: str

    def __bool__(self) -> bool:
        return bool(self.entries)

    def prompt_text(self) -> str:
        """The block placed in the system prompt: one ``headword = translation`` per line."""
        if not self.entries:
            return ""
        head = f"Dictionary ({lang_name(self.source_lang)} = {lang_name(self.target_lang)}):"
        return "\n".join([head] + [e.line() for e in self.entries])

    def first_translation(self, word: str) -> Optional[str]:
        for e in self.entries:
            if e.word.lower() == word.lower():
                return e.translation
        return None


def words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def welsh_radicals(word: str) -> list[str]:
    """Possible unmutated forms of a Welsh word (soft, nasal and aspirate mutations undone)."""
    w = word.lower()
    out: list[str] = []
    rules = [  # mutated start -> radical starts
        ("ngh", ["c"]), ("mh", ["p"]), ("nh", ["t"]), ("ng", ["g"]), ("ph", ["p"]), ("th", ["t"]),
        ("ch", ["c"]), ("dd", ["d"]), ("ff", []), ("ll", []), ("rh", []),
        ("b", ["p"]), ("d", ["t"]), ("g", ["c"]), ("f", ["b", "m"]), ("l", ["ll"]), ("r", ["rh"]),
        ("m", ["b"]), ("n", ["d"]), ("h", [""]),
    ]
    for start, radicals in rules:
        if w.startswith(start):
            out += [r + w[len(start):] for r in radicals]
            break
    if w[:1] in "aeiouwyâêîôûŵŷ":
        out.append("g" + w)  # soft mutation drops g
    return [c for c in out if len(c) >= 2 and c != w]


class DictionaryLookup:
    """Word lookups against ``entries`` for one language direction, cached per instance."""

    def __init__(self, ws, source_lang: str, target_lang: str) -> None:
        self.db = ws.db
        self.src, self.tgt = lang_code(source_lang), lang_code(target_lang)
        self._cache: dict[tuple[str, str], list[dict]] = {}
        self._words: dict[tuple[str, int], list[GlossaryEntry]] = {}  # drafts of a whole corpus reuse these
        self.has_entries = bool(ws.db.execute("select 1 from entries limit 1").fetchone())

    def _fts(self, column: str, query: str) -> list[dict]:
        key = (column, query)
        if key not in self._cache:
            sql = ("select e.headword, e.translation, e.pos, e.headword_lang, e.translation_lang "
                   "from entries e join entries_fts f on f.rowid = e.id "
                   "where entries_fts match ? order by coalesce(e.sense, 0), e.id limit 400")
            rows = self.db.execute(sql, [f'{column} : {query}']).fetchall()
            self._cache[key] = [dict(zip(("headword", "translation", "pos", "hl", "tl"), r)) for r in rows]
        return self._cache[key]

    def _forward(self, rows: Iterable[dict]) -> list[dict]:
        return [r for r in rows if lang_code(r["hl"]) == self.src and lang_code(r["tl"]) == self.tgt]

    def lookup(self, word: str, per_word: int = 2) -> list[GlossaryEntry]:
        key = (word, per_word)
        if key not in self._words:
            self._words[key] = self._lookup(word, per_word)
        return self._words[key]

    def _lookup(self, word: str, per_word: int) -> list[GlossaryEntry]:
        w = word.lower()
        if len(w) < 2:
            return []
        rows = [r for r in self._forward(self._fts("headword", f'"{w}"')) if r["headword"].lower() == w]
        how = "exact"
        if not rows and len(w) >= 4:
            rows, how = self._by_prefix(w), "prefix"
        if not rows and self.src == "cy":
            for radical in welsh_radicals(w):
                rows = [r for r in self._forward(self._fts("headword", f'"{radical}"'))
                        if r["headword"].lower() == radical]
                if rows:
                    how = "mutation"
                    break
        if not rows:  # a one-way dictionary: find the word among translations into our source
            back = [r for r in self._fts("translation", f'"{w}"')
                    if lang_code(r["hl"]) == self.tgt and lang_code(r["tl"]) == self.src
                    and r["translation"].lower() == w]
            rows = [{"headword": r["translation"], "translation": r["headword"], "pos": r["pos"]} for r in back]
            how = "reverse"
        out, seen = [], set()
        for r in rows:
            translation = (r["translation"] or "").strip()
            if not translation or translation.lower() in seen:
                continue
            seen.add(translation.lower())
            out.append(GlossaryEntry(word, r["headword"], translation, r.get("pos") or "", how))
            if len(out) >= per_word:
                break
        return out

    def _by_prefix(self, w: str) -> list[dict]:
        """The longest single-word headword the word starts with (a lemma), at most 3 letters shorter."""
        stem = w[: max(3, len(w) - 3)]
        best: list[dict] = []
        best_len = 0
        for r in self._forward(self._fts("headword", f'"{stem}"*')):
            h = r["headword"].lower()
            if " " in h or not w.startswith(h) or len(h) < max(3, len(w) - 3):
                continue
            if len(h) > best_len:
                best, best_len = [r], len(h)
            elif len(h) == best_len:
                best.append(r)
        return best

    def phrase(self, first: str, second: str) -> list[GlossaryEntry]:
        p = f"{first} {second}".lower()
        rows = [r for r in self._forward(self._fts("headword", f'"{p}"')) if r["headword"].lower() == p]
        return [GlossaryEntry(p, r["headword"], r["translation"], r["pos"] or "", "phrase") for r in rows[:1]]


def build_glossary(ws, text: str, *, source_lang: str, target_lang: str, max_entries: int = 24,
                   per_word: int = 2, lookup: Optional[DictionaryLookup] = None) -> Glossary:
    """The dictionary entries relevant to ``text`` (a source-language input), in input order."""
    lookup = lookup or DictionaryLookup(ws, source_lang, target_lang)
    glossary = Glossary([], lang_code(source_lang), lang_code(target_lang))
    if not lookup.has_entries:
        return glossary
    stop = STOPWORDS.get(lookup.src, set())
    tokens = words(text)
    seen: set[str] = set()  # input words and phrases already looked up
    have: set[tuple[str, str]] = set()  # (headword, translation) already in the glossary

    def add(found: list[GlossaryEntry]) -> None:
        for e in found:
            key = (e.headword.lower(), e.translation.lower())
            if key not in have:
                have.add(key)
                glossary.entries.append(e)

    for i, word in enumerate(tokens):
        if len(glossary.entries) >= max_entries:
            break
        if i + 1 < len(tokens):
            found = [e for e in lookup.phrase(word, tokens[i + 1]) if e.headword.lower() not in seen]
            seen.update(e.headword.lower() for e in found)
            add(found)
        w = word.lower()
        if w in seen or w in stop:
            continue
        seen.add(w)
        add(lookup.lookup(word, per_word=per_word))
    glossary.entries = glossary.entries[:max_entries]
    return glossary
