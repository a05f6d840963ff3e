"""Apertium bilingual lexicons: the ``.dix`` XML and its TSV print-out.

In a bilingual ``.dix`` each ``<e>`` pairs a left (first-language) and right lemma::

    <e r="LR"><p><l>aap<s n="n"/></l><r>aap<s n="n"/></r></p></e>
    <e><i>Afrika<s n="np"/></i></e>          (identical on both sides)

``<b/>`` is a blank inside a multiword, ``<s n=…/>`` the tags; the first tag is the part of
speech. ``r="LR"``/``"RL"`` restricts a direction and is kept in ``extra``. Entries that are
regular expressions or paradigm references have no lemma pair and are passed over.

The TSV form (``data/af/afr-nld.bidix.tsv``) is ``left<TAB>right<TAB><left_tags><TAB><right_tags>``.
Languages come from the file name (``apertium-afr-nld.afr-nld.dix`` → afr, nld).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator, Optional

from ..langs import pair_from_name, workspace_code
from ..textio.records import Entry, Reject, Source
from ..textio.files import nonblank_lines
from ..textio.xmlstream import iter_elements

_TAG = re.compile(r"<([^<>]+)>")


def _langs(path: Path, source_lang: str, target_lang: str) -> tuple[Optional[str], Optional[str]]:
    pair = pair_from_name(path.name)
    if pair is None:
        return target_lang, source_lang
    return workspace_code(pair[0], source_lang, target_lang), workspace_code(pair[1], source_lang, target_lang)


def read_dix(path: Path, source_lang: str, target_lang: str) -> Source:
    hw_lang, tr_lang = _langs(path, source_lang, target_lang)
    return Source(path=str(path), format="apertium-dix", kind="dictionary", headword_lang=hw_lang,
                  translation_lang=tr_lang, name=path.name, records=_dix_entries(path))


def _dix_entries(path: Path) -> Iterator[Entry | Reject]:
    seen_dictionary = False
    for item in iter_elements(path, {"e", "sdefs"}):
        if isinstance(item, Reject):
            yield item
            return
        el, line = item
        seen_dictionary = True
        if el.tag != "e":
            continue
        pair = _lemma_pair(el)
        if pair is None:
            continue
        (left, ltags), (right, rtags) = pair
        if not left or not right:
            continue
        extra: dict = {}
        if ltags:
            extra["tags"] = ltags
        if rtags and rtags != ltags:
            extra["translation_tags"] = rtags
        if el.get("r"):
            extra["restriction"] = el.get("r")
        yield Entry(left, right, ltags[0] if ltags else None, None, line, extra)
    if not seen_dictionary:
        yield Reject(None, "expected an Apertium <dictionary> with <e> entries, found none")


def _lemma_pair(e: ET.Element):
    for child in e:
        if child.tag == "i":
            side = _side(child)
            return side, side
        if child.tag == "p":
            left, right = child.find("l"), child.find("r")
            if left is None or right is None:
                return None
            return _side(left), _side(right)
    return None


def _side(el: ET.Element) -> tuple[str, list[str]]:
    """Lemma text (``<b/>`` → space, ``<g>`` groups kept) and its tag names."""
    parts: list[str] = []
    tags: list[str] = []

    def walk(node: ET.Element) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if child.tag == "b":
                parts.append(" ")
            elif child.tag == "s":
                tags.append(child.get("n", ""))
            elif child.tag == "j":
                parts.append("+")
            else:
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return " ".join("".join(parts).split()), tags


def read_tsv(path: Path, source_lang: str, target_lang: str) -> Source:
    hw_lang, tr_lang = _langs(path, source_lang, target_lang)
    return Source(path=str(path), format="apertium-tsv", kind="dictionary", headword_lang=hw_lang,
                  translation_lang=tr_lang, name=path.name, records=_tsv_entries(path))


def _tsv_entries(path: Path) -> Iterator[Entry | Reject]:
    for number, line in nonblank_lines(path):
        if isinstance(line, Reject):  # a bad byte or an endless line: --skip-bad sets it aside
            yield line
            continue
        cells = line.split("\t")
        if len(cells) != 4:
            yield Reject(number, f"expected left<TAB>right<TAB><left_tags><TAB><right_tags>, found "
                                 f"{len(cells)} column{'s' if len(cells) != 1 else ''}", line)
            continue
        left, right, ltag_text, rtag_text = cells
        if not left.strip() or not right.strip():
            yield Reject(number, "expected a lemma on both sides, found an empty one", line)
            continue
        ltags, rtags = _TAG.findall(ltag_text), _TAG.findall(rtag_text)
        extra: dict = {}
        if ltags:
            extra["tags"] = ltags
        if rtags and rtags != ltags:
            extra["translation_tags"] = rtags
        yield Entry(left, right, ltags[0] if ltags else None, None, number, extra)
