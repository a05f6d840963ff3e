"""FreeDict TEI XML dictionaries (the source form FreeDict's dictd files are built from).

An entry (TEI P5, as FreeDict writes it)::

    <entry>
      <form><orth>cath</orth><pron>kˈɑːθ</pron></form>
      <gramGrp><pos>n</pos></gramGrp>
      <sense n="1"><cit type="trans"><quote>cat</quote></cit></sense>
    </entry>

Older P4 files put translations in ``<trans><tr>…</tr></trans>``; both are read. The
``teiHeader`` gives the dictionary's title, licence and URL.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator, Optional

from ..langs import pair_from_name, workspace_code
from ..textio.records import Entry, Reject, Source
from ..textio.xmlstream import iter_elements, text_of


def read(path: Path, source_lang: str, target_lang: str) -> Source:
    header = _header(path)
    pair = pair_from_name(path.name) or header.pop("langs", None)
    if pair:
        hw_lang, tr_lang = (workspace_code(c, source_lang, target_lang) for c in pair)
    else:
        hw_lang, tr_lang = target_lang, source_lang
    return Source(path=str(path), format="tei", kind="dictionary", headword_lang=hw_lang, translation_lang=tr_lang,
                  name=header.get("title") or path.name, licence=header.get("licence"), url=header.get("url"),
                  description=header.get("description"), records=_entries(path))


def _header(path: Path) -> dict:
    """Title, licence and URL from the ``teiHeader`` (read before the entries; it comes first)."""
    for item in iter_elements(path, {"teiHeader"}):
        if isinstance(item, Reject):
            return {}
        el, _ = item
        out: dict = {}
        title = el.find(".//titleStmt/title")
        if title is not None:
            out["title"] = text_of(title)
        avail = el.find(".//availability")
        if avail is not None:
            licence = avail.find(".//licence")
            target = licence.get("target") if licence is not None else None
            text = text_of(avail)
            out["licence"] = _licence_name(target or "", text)
            out["description"] = text[:2000] or None
        for ref in el.iter("ref"):
            if ref.get("target", "").startswith("http"):
                out["url"] = ref.get("target")
                break
        return out
    return {}


def _licence_name(target: str, text: str) -> Optional[str]:
    blob = f"{target} {text}"
    m = re.search(r"gpl-?(\d)", blob, re.I) or re.search(r"General Public License,? ver(?:sion|\.)? ?(\d)", blob,
                                                           re.I)
    if m:
        return f"GPL-{m.group(1)}" + ("+" if re.search(r"later version|\+", blob) else "")
    if re.search(r"general public license", blob, re.I):
        return "GPL"
    m = re.search(r"creativecommons\.org/licenses/([a-z-]+)/([\d.]+)", blob)
    if m:
        return f"CC-{m.group(1).upper()}-{m.group(2)}"
    return target or None


def _entries(path: Path) -> Iterator[Entry | Reject]:
    for item in iter_elements(path, {"entry"}):
        if isinstance(item, Reject):
            yield item
            return
        el, line = item
        yield from parse_entry(el, line)


def parse_entry(el: ET.Element, line: int) -> Iterator[Entry | Reject]:
    orths = [text_of(o) for o in el.iter("orth") if text_of(o)]
    if not orths:
        yield Reject(line, "expected <form><orth>headword</orth></form> in <entry>, found no headword",
                     ET.tostring(el, encoding="unicode")[:200])
        return
    headword = orths[0]
    pos = _grammar(el)
    pron = next(iter(el.iter("pron")), None)
    extra = {"ipa": text_of(pron)} if pron is not None and text_of(pron) else {}
    if len(orths) > 1:
        extra["variants"] = orths[1:]
    senses = [s for s in el if s.tag == "sense"] or [el]
    produced = False
    for i, sense in enumerate(senses, 1):
        # numbered as in the file; unnumbered senses by position, a lone one not at all (as dictd)
        number = _sense_number(sense.get("n"), i if len(senses) > 1 else None) if sense is not el else None
        for translation in _translations(sense):
            yield Entry(headword, translation, pos or None, number, line, dict(extra))
            produced = True
    if not produced:
        yield Reject(line, f"expected a translation (<cit type=\"trans\"><quote>) for {headword!r}, found none",
                     headword)


def _grammar(entry: ET.Element) -> Optional[str]:
    """``<gramGrp><pos>n</pos><num>s</num><gen>f</gen>`` → ``"n, s, f"`` (the dictd spelling)."""
    group = entry.find("gramGrp")
    if group is None:
        group = next(entry.iter("gramGrp"), None)
    if group is None:
        return None
    parts = [text_of(group.find(tag)) for tag in ("pos", "num", "gen") if group.find(tag) is not None]
    return ", ".join(p for p in parts if p) or None


def _translations(sense: ET.Element) -> Iterator[str]:
    for cit in sense.iter("cit"):
        if cit.get("type") in ("trans", "translation", "translationEquivalent"):
            for quote in cit.findall("quote"):
                if text_of(quote):
                    yield text_of(quote)
    for tr in sense.iter("tr"):
        if text_of(tr):
            yield text_of(tr)


def _sense_number(n: Optional[str], default: Optional[int]) -> Optional[int]:
    try:
        return int(n) if n is not None else default
    except ValueError:
        return default
