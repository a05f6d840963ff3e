"""Language codes: FreeDict and Apertium name files with ISO 639-3 (``cym-eng``), workspaces use
the short codes people type (``cy``, ``en``). This maps one to the other."""

from __future__ import annotations

import re
from typing import Optional

# ISO 639-3 → 639-1 for the languages FreeDict/Apertium ship and communities ask about.
ISO639_3_TO_1 = {
    "afr": "af", "ara": "ar", "bel": "be", "ben": "bn", "bos": "bs", "bre": "br", "bul": "bg",
    "cat": "ca", "ces": "cs", "cor": "kw", "cym": "cy", "dan": "da", "deu": "de", "ell": "el",
    "eng": "en", "epo": "eo", "est": "et", "eus": "eu", "fao": "fo", "fas": "fa", "fin": "fi",
    "fra": "fr", "fry": "fy", "gla": "gd", "gle": "ga", "glg": "gl", "glv": "gv", "hau": "ha",
    "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "hye": "hy", "ind": "id", "isl": "is",
    "ita": "it", "jpn": "ja", "kat": "ka", "kaz": "kk", "kor": "ko", "kur": "ku", "lat": "la",
    "lav": "lv", "lit": "lt", "ltz": "lb", "mkd": "mk", "mlt": "mt", "mri": "mi", "msa": "ms",
    "nld": "nl", "nno": "nn", "nob": "nb", "nor": "no", "oci": "oc", "pol": "pl", "por": "pt",
    "ron": "ro", "rus": "ru", "san": "sa", "slk": "sk", "slv": "sl", "sme": "se", "spa": "es",
    "sqi": "sq", "srp": "sr", "swa": "sw", "swe": "sv", "tam": "ta", "tgl": "tl", "tha": "th",
    "tur": "tr", "ukr": "uk", "urd": "ur", "vie": "vi", "wln": "wa", "xho": "xh", "yid": "yi",
    "yor": "yo", "zho": "zh", "zul": "zu", "hat": "ht", "haw": "haw", "sco": "sco",
}
_1_TO_3 = {v: k for k, v in ISO639_3_TO_1.items()}


# English names used in prompts. Fine-tuning trains on "Translate to Welsh: …" and inference must ask
# in exactly the same words, so both take the name from here (an unknown code stays as it is).
LANGUAGE_NAMES = {
    "en": "English", "cy": "Welsh", "af": "Afrikaans", "fy": "Frisian", "nl": "Dutch", "de": "German",
    "fr": "French", "es": "Spanish", "ga": "Irish", "gd": "Scottish Gaelic", "br": "Breton",
    "kw": "Cornish", "tt": "Tatar", "hy": "Armenian", "sw": "Swahili", "is": "Icelandic",
    "ku": "Kurdish", "la": "Latin",
}


def language_name(code: Optional[str]) -> str:
    """``cy``, ``cym`` and ``cy-GB`` all give "Welsh"; an unknown code is returned unchanged."""
    raw = (code or "").strip()
    short = base(raw.lower()) if raw else raw
    short = ISO639_3_TO_1.get(short, short)
    return LANGUAGE_NAMES.get(short, raw)


def translation_instruction(text: str, into: Optional[str]) -> str:
    """The one wording of a translation request (``Translate to Welsh: …``), ``into`` a language code.

    The fine-tune trains on it, ``kit.infer`` asks with it and the tokenizer learns its words,
    so all three must build it here.
    """
    return f"Translate to {language_name(into)}: {text}"


def same_language(a: Optional[str], b: Optional[str]) -> bool:
    """``cym`` and ``cy`` (and ``cy-GB``) name the same language."""
    if not a or not b:
        return False
    return base(a) == base(b)


def base(code: str) -> str:
    code = code.lower().replace("_", "-").split("-")[0]
    return ISO639_3_TO_1.get(code, code)


def workspace_code(code: str, *workspace_codes: str) -> str:
    """The workspace's own spelling when ``code`` names one of its languages, else a short code."""
    for ws_code in workspace_codes:
        if ws_code and same_language(code, ws_code):
            return ws_code
    return base(code)


_PAIR = re.compile(r"(?<![a-z])([a-z]{2,3})[-_]([a-z]{2,3})(?![a-z])")


def pair_from_name(name: str) -> Optional[tuple[str, str]]:
    """``freedict-cym-eng.index`` → ``("cym", "eng")``; None when the name holds no pair."""
    for m in _PAIR.finditer(name.lower()):
        a, b = m.groups()
        if _known(a) and _known(b):
            return a, b
    return None


def _known(code: str) -> bool:
    return code in ISO639_3_TO_1 or code in _1_TO_3
