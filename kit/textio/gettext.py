"""gettext catalogues (``.po`` text and compiled ``.mo``) as parallel segments.

Software translations are the most common translated text a small language has on a
laptop (every ``*-l10n`` package ships ``.mo`` files). They are sentence pairs, not word
pairs, so they go to ``segments`` (kind ``parallel``), never to the dictionary.
``msgid`` is the source side, ``msgstr`` the target; untranslated and fuzzy messages are
left out; plural forms give one pair per form that has both sides. The target language is
the catalogue's ``Language:`` header when it has one.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Iterator, Optional

from ..langs import workspace_code
from .records import Reject, Segment, Source
from .files import lines_or_rejects

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_OCTAL = "01234567"
_HEX = "0123456789abcdefABCDEF"
_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*)$')


def unescape(quoted: str) -> str:
    """The content of a PO string ``"…"``, decoded by gettext's rules; ValueError says what is wrong.

    As GNU gettext's ``po-lex.c``: ``\\n \\t \\r \\a \\b \\f \\v \\\\ \\"``, up to three octal
    digits (``\\101`` is ``A``), ``\\x`` and hex digits (``\\x41``); these two give bytes, so
    ``\\303\\251`` is ``é`` in a UTF-8 catalogue. Any other escape, a string without its closing
    quote, and text after it are errors (``msgfmt --check`` refuses the same strings).
    Hand-written because Python's ``codecs`` escapes differ (``\\u``, ``\\N{…}``, ``\\?``).
    """
    s = quoted.strip()
    if not s.startswith('"'):
        raise ValueError("expected a string in double quotes")
    out = bytearray()
    i, n = 1, len(s)
    while True:
        if i >= n:
            raise ValueError("the string has no closing quote (end of line within the string)")
        c = s[i]
        if c == '"':
            break
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("the string has no closing quote (it ends with a backslash)")
        e = s[i + 1]
        if e in _ESCAPES:
            out += _ESCAPES[e].encode("utf-8")
            i += 2
        elif e in _OCTAL:
            j = i + 1
            while j < n and j < i + 4 and s[j] in _OCTAL:
                j += 1
            out.append(int(s[i + 1:j], 8) & 0xFF)
            i = j
        elif e == "x":
            j = i + 2
            while j < n and s[j] in _HEX:
                j += 1
            if j == i + 2:
                raise ValueError("invalid control sequence \\x without hex digits")
            out.append(int(s[i + 2:j], 16) & 0xFF)
            i = j
        else:
            raise ValueError(f"invalid control sequence \\{e}")
    rest = s[i + 1:].strip()
    if rest:
        raise ValueError(f"unexpected text after the closing quote: {rest[:30]}")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"escaped bytes that are not UTF-8 (byte 0x{out[err.start]:02x})") from None


def _language_of(header: str) -> Optional[str]:
    m = re.search(r"^Language:\s*([A-Za-z_@-]+)", header, re.M)
    return m.group(1) if m else None


def _source(path: Path, fmt: str, source_lang: str, target_lang: str, header: str, records) -> Source:
    lang = _language_of(header)
    tgt = workspace_code(lang, source_lang, target_lang) if lang else target_lang
    return Source(path=str(path), format=fmt, kind="parallel", headword_lang=source_lang, translation_lang=tgt,
                  name=path.name, description=header or None, records=records)


# -- .po ------------------------------------------------------------------------------------------


def read_po(path: Path, source_lang: str, target_lang: str) -> Source:
    messages = list(_po_messages(path))  # catalogues are small; the header comes first
    header = next((m["msgstr"].get(0, "") for m in messages if isinstance(m, dict) and m.get("msgid") == ""
                   and "msgctxt" not in m), "")
    return _source(path, "po", source_lang, target_lang, header, _po_segments(messages))


def _po_segments(messages: list) -> Iterator[Segment | Reject]:
    for m in messages:
        if isinstance(m, Reject):
            yield m
            continue
        if m.get("msgid", "") == "" or m.get("fuzzy"):
            continue
        yield from _pairs(m["msgid"], m.get("msgid_plural"), m["msgstr"], m["line"])


def _pairs(msgid: str, plural: Optional[str], msgstr: dict[int, str], line: int) -> Iterator[Segment]:
    if msgstr.get(0):
        yield Segment(msgid, msgstr[0], line)
    if plural:
        for n, text in sorted(msgstr.items()):
            if n >= 1 and text:
                yield Segment(plural, text, line)


def _po_messages(path: Path) -> Iterator[dict | Reject]:
    current: dict = {}
    field: Optional[tuple] = None
    flags: set[str] = set()

    def finish():
        nonlocal current, flags
        msg = current
        current = {}
        if "msgid" in msg:
            if not msg["msgstr"]:
                return Reject(msg["line"], "expected msgstr after msgid, found none", msg["msgid"][:80])
            return msg
        return None

    for number, raw in lines_or_rejects(path):
        if isinstance(raw, Reject):  # a bad byte or an endless line: --skip-bad sets it aside
            yield raw
            continue
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#,"):
                flags.update(f.strip() for f in line[2:].split(","))
            continue
        if line.startswith('"'):
            if field is None:
                yield Reject(number, f"expected msgid/msgstr before a continued string, found {line[:60]}", raw)
                continue
            try:
                _append(current, field, unescape(line))
            except ValueError as err:
                yield Reject(number, f"expected a \"quoted string\": {err}", raw)
            continue
        m = _KEYWORD.match(line)
        if not m:
            yield Reject(number, f"expected msgctxt, msgid, msgstr or \"…\", found {line[:60]}", raw)
            field = None
            continue
        keyword, index, quoted = m.group(1), m.group(2), m.group(3)
        if keyword in ("msgctxt", "msgid") and ("msgstr" in current and current["msgstr"] or
                                                (keyword == "msgid" and "msgid" in current)):
            done = finish()
            if done is not None:
                yield done
        if keyword in ("msgctxt", "msgid") and "line" not in current:
            current["line"] = number
            current["msgstr"] = {}
            current["fuzzy"] = "fuzzy" in flags
            flags = set()
        try:
            value = unescape(quoted)
        except ValueError as err:
            yield Reject(number, f"expected a \"quoted string\": {err}", raw)
            field = None
            continue
        if keyword.startswith("msgstr"):
            if "msgid" not in current:
                yield Reject(number, "expected msgid before msgstr, found msgstr alone", raw)
                field = None
                continue
            field = ("msgstr", int(index) if index is not None else 0)
        else:
            field = (keyword,)
        _append(current, field, value, new=True)
    done = finish()
    if done is not None:
        yield done


def _append(msg: dict, field: tuple, text: str, new: bool = False) -> None:
    if field[0] == "msgstr":
        store = msg.setdefault("msgstr", {})
        store[field[1]] = text if new else store.get(field[1], "") + text
    else:
        msg[field[0]] = text if new else msg.get(field[0], "") + text


# -- .mo ------------------------------------------------------------------------------------------


def read_mo(path: Path, source_lang: str, target_lang: str) -> Source:
    data = path.read_bytes()
    messages, problem = _mo_messages(data)
    header = messages.get("", "") if messages else ""
    return _source(path, "mo", source_lang, target_lang, header, _mo_segments(messages, problem))


def _mo_messages(data: bytes) -> tuple[dict[str, str], Optional[str]]:
    if len(data) < 28:
        return {}, f"expected a .mo header (28 bytes), found {len(data)} bytes"
    magic = data[:4]
    if magic == b"\xde\x12\x04\x95":
        order = "<"
    elif magic == b"\x95\x04\x12\xde":
        order = ">"
    else:
        return {}, f"expected the .mo magic number 0x950412de, found 0x{magic.hex()}"
    _rev, count, orig_at, trans_at = struct.unpack(order + "4I", data[4:20])
    messages: dict[str, str] = {}
    for i in range(count):
        try:
            olen, ooff = struct.unpack(order + "2I", data[orig_at + 8 * i: orig_at + 8 * i + 8])
            tlen, toff = struct.unpack(order + "2I", data[trans_at + 8 * i: trans_at + 8 * i + 8])
        except struct.error:
            return messages, f"expected {count} messages, found the table cut short at message {i + 1}"
        if ooff + olen > len(data) or toff + tlen > len(data):
            return messages, f"expected message {i + 1} inside the file, found an offset past its end"
        try:
            msgid = data[ooff:ooff + olen].decode("utf-8")
            msgstr = data[toff:toff + tlen].decode("utf-8")
        except UnicodeDecodeError:
            return messages, f"expected UTF-8 in message {i + 1}, found undecodable bytes (charset not UTF-8?)"
        messages[msgid] = msgstr
    return messages, None


def _mo_segments(messages: dict[str, str], problem: Optional[str]) -> Iterator[Segment | Reject]:
    for n, (msgid, msgstr) in enumerate(messages.items(), 1):
        if msgid == "" or not msgstr:
            continue
        msgid = msgid.split("\x04", 1)[-1]  # drop msgctxt
        ids = msgid.split("\x00")
        strs = msgstr.split("\x00")
        yield from _pairs(ids[0], ids[1] if len(ids) > 1 else None, dict(enumerate(strs)), n)
    if problem:
        yield Reject(None, problem)
