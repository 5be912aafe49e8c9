"""Which characters the report's fonts can draw, and how the others are written instead.

Apart from ``pdf`` because it is a job of its own: it asks fontconfig (through ctypes, once a process)
which code points the installed fonts cover, and spells every other character as ``[U+XXXX NAME]``;
``pdf`` passes every text of the report through :func:`legible` before WeasyPrint sets it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import unicodedata
from collections.abc import Callable
from functools import cache

FONT_FAMILIES = "NanumGothic,NanumBarunGothic,Noto Sans CJK KR,sans-serif"  # as in the report template's CSS


@cache
def _font_coverage() -> Callable[[int], bool]:
    """Whether some installed font has a glyph for a code point, as fontconfig answers for our fonts.

    Pango falls back through fontconfig's sorted list of every installed font; FcFontSort returns the
    union of their character sets. Without fontconfig (never on a supported system), assume coverage.
    """
    try:
        fc = ctypes.CDLL(ctypes.util.find_library("fontconfig") or "libfontconfig.so.1")
    except OSError:
        return lambda codepoint: True
    pointer = ctypes.c_void_p
    fc.FcInitLoadConfigAndFonts.restype = pointer
    fc.FcNameParse.restype, fc.FcNameParse.argtypes = pointer, [ctypes.c_char_p]
    fc.FcConfigSubstitute.argtypes = [pointer, pointer, ctypes.c_int]
    fc.FcDefaultSubstitute.argtypes = [pointer]
    fc.FcFontSort.restype = pointer
    fc.FcFontSort.argtypes = [pointer, pointer, ctypes.c_int, ctypes.POINTER(pointer), ctypes.POINTER(ctypes.c_int)]
    fc.FcFontSetDestroy.argtypes = [pointer]
    fc.FcPatternDestroy.argtypes = [pointer]
    fc.FcCharSetHasChar.restype, fc.FcCharSetHasChar.argtypes = ctypes.c_int, [pointer, ctypes.c_uint32]
    config = fc.FcInitLoadConfigAndFonts()
    pattern = fc.FcNameParse(FONT_FAMILIES.encode())
    fc.FcConfigSubstitute(config, pattern, 0)  # FcMatchPattern
    fc.FcDefaultSubstitute(pattern)
    charset, result = pointer(), ctypes.c_int()
    fonts = fc.FcFontSort(config, pattern, 0, ctypes.byref(charset), ctypes.byref(result))
    fc.FcPatternDestroy(pattern)
    if not fonts or not charset:
        return lambda codepoint: True
    fc.FcFontSetDestroy(fonts)
    return lambda codepoint: bool(fc.FcCharSetHasChar(charset, codepoint))  # the charset lives on


_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_legible_char: dict[str, str] = {}


def _notation(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"[U+{ord(char):04X} {name}]" if name else f"[U+{ord(char):04X}]"


def _legible_one(char: str) -> str:
    shown = _legible_char.get(char)
    if shown is None:
        visible = unicodedata.category(char) not in {"Cc", "Cs", "Co", "Cn"} and _font_coverage()(ord(char))
        shown = _legible_char[char] = char if visible or char in "\t\n\r" else _notation(char)
    return shown


def legible(text: str) -> str:
    """The text with every character no font can draw (emoji here, controls) written as [U+XXXX NAME].

    A missing glyph is an empty box to the reader and, worse, makes WeasyPrint give the whole font a
    custom encoding that pypdf cannot decode: every word set in it would extract as garbage, and a
    test asserting that a name is absent would pass for the wrong reason.
    """
    if text.isascii():
        return text if text.isprintable() else _ASCII_CONTROL.sub(lambda match: _notation(match[0]), text)
    return "".join([_legible_one(char) for char in text])
