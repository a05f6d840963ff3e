"""TMX translation memories as parallel segments.

A ``<tu>`` holds one ``<tuv xml:lang="…"><seg>…</seg></tuv>`` per language. We keep the
units that have both workspace languages (``en`` matches ``en-GB``, ``eng``); a
multilingual memory simply contributes its pairs for this workspace. Inline markup
(``<bpt>``, ``<ept>``, ``<ph>``, ``<it>``) holds the original file's formatting codes, not
words, so its content is dropped and the surrounding text kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..langs import same_language
from .records import Reject, Segment, Source
from .xmlstream import iter_elements, text_of

_CODES = frozenset({"bpt", "ept", "ph", "it", "ut"})


def read(path: Path, source_lang: str, target_lang: str) -> Source:
    return Source(path=str(path), format="tmx", kind="parallel", headword_lang=source_lang,
                  translation_lang=target_lang, name=path.name,
                  records=_segments(path, source_lang, target_lang))


def _segments(path: Path, source_lang: str, target_lang: str) -> Iterator[Segment | Reject]:
    units = 0
    for item in iter_elements(path, {"tu"}):
        if isinstance(item, Reject):
            yield item
            return
        tu, line = item
        units += 1
        texts: dict[str, str] = {}
        for tuv in tu.findall("tuv"):
            lang = tuv.get("lang") or tuv.get("xml:lang") or ""
            seg = tuv.find("seg")
            if seg is None:
                yield Reject(line, f"expected <seg> inside <tuv xml:lang=\"{lang}\">, found none")
                break
            for want in (source_lang, target_lang):
                if same_language(lang, want) and want not in texts:
                    texts[want] = text_of(seg, _CODES)
        else:
            if texts.get(source_lang) and texts.get(target_lang):
                yield Segment(texts[source_lang], texts[target_lang], line)
    if units == 0:
        yield Reject(None, "expected <tu> translation units in a <tmx> file, found none")
