"""Streaming XML with line numbers, for TEI, Apertium ``.dix`` and TMX.

ElementTree's ``iterparse`` forgets where an element started, but a user fixing a broken
dictionary needs ``FILE:LINE``. This builds small ElementTree elements with expat for the
tags a reader asks for (an ``<entry>``, a ``<tu>``) and yields each with its starting line,
so a 100 MB TEI file never sits in memory whole. Namespaces are dropped to local names
(``xml:lang`` → ``lang``); expat fetches no external entities.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator, Union
from xml.parsers import expat

from .records import Reject

CHUNK = 1 << 16


def iter_elements(path: Path, wanted: set[str]) -> Iterator[Union[tuple[ET.Element, int], Reject]]:
    """Yield ``(element, line)`` for each complete element named in ``wanted`` (outermost only).

    Malformed XML yields one :class:`Reject` with expat's line and reason, then stops.
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[ET.Element] = []
    done: list[tuple[ET.Element, int]] = []
    start_line = [0]

    def local(name: str) -> str:
        return name.rsplit(" ", 1)[-1]

    def start(name, attrs):
        tag = local(name)
        if not stack and tag not in wanted:
            return
        el = ET.Element(tag, {local(k): v for k, v in attrs.items()})
        if stack:
            stack[-1].append(el)
        else:
            start_line[0] = parser.CurrentLineNumber
        stack.append(el)

    def end(name):
        if not stack:
            return
        el = stack.pop()
        if not stack:
            done.append((el, start_line[0]))

    def chars(data):
        if not stack:
            return
        el = stack[-1]
        if len(el):
            last = el[-1]
            last.tail = (last.tail or "") + data
        else:
            el.text = (el.text or "") + data

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.buffer_text = True
    with open(path, "rb") as f:
        while True:
            block = f.read(CHUNK)
            try:
                parser.Parse(block, not block)
            except expat.ExpatError as err:
                yield from done
                yield Reject(err.lineno, f"expected well-formed XML, found {expat.ErrorString(err.code)} "
                                         f"(column {err.offset + 1})")
                return
            except LookupError as err:  # <?xml encoding="…"?> names an encoding Python does not have
                yield from done
                yield Reject(parser.CurrentLineNumber or 1, f"expected a known XML encoding, found {err}")
                return
            yield from done
            done.clear()
            if not block:
                return


def text_of(el: ET.Element, skip: frozenset[str] = frozenset()) -> str:
    """All text inside ``el`` with whitespace collapsed, leaving out the text of ``skip`` tags."""
    parts: list[str] = []

    def walk(node: ET.Element) -> None:
        if node.tag not in skip:
            if node.text:
                parts.append(node.text)
            for child in node:
                walk(child)
        if node is not el and node.tail:
            parts.append(node.tail)

    walk(el)
    return " ".join("".join(parts).split())
