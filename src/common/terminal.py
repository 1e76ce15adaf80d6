"""Log data on a terminal: no control characters, no rich markup.

A log line is written by whoever could reach the logger, so a field may hold ESC, OSC or
CSI sequences (retitle the window, clear the screen, fake a line), BEL, C1 controls, or
text rich would read as markup (``[/]`` raises ``MarkupError``, ``[link=...]`` becomes a
link). Every command prints log-derived text through :func:`clean` (plain output) or
:func:`markup` (inside a rich table or markup string), as ``less`` shows control
characters instead of obeying them.

Hand-written because rich's own ``strip_control_codes`` removes only BEL, BS, VT, FF and
CR: ESC, the other C0 codes and C1 (``0x9b`` is a one-byte CSI) pass it.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = [
    "CleanWriter",
    "InertLines",
    "clean",
    "clean_line",
    "clean_text",
    "json_escape_controls",
    "markup",
    "paint",
    "wants_colour",
]

# C0 (0x00-0x1f), DEL and C1 (0x80-0x9f); line breaks and tabs become a space so that one
# field stays on its line, everything else goes. Bidi overrides and isolates (U+202A-202E,
# U+2066-2069) go too, and the bidi marks (LRM, RLM, ALM): they reorder what the operator
# reads.
_WHITESPACE = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85}
_TABLE: dict[int, str | None] = {
    c: (" " if c in _WHITESPACE else None) for c in (*range(0x20), *range(0x7F, 0xA0))
}
_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
_TABLE.update({c: None for c in _BIDI})
_TABLE.update({0x2028: " ", 0x2029: " "})  # line and paragraph separators


def clean(value: object) -> str:
    """``value`` as text safe to print on a terminal: control characters removed (line
    breaks and tabs become spaces)."""
    return str(value).translate(_TABLE)


def markup(value: object) -> str:
    """:func:`clean`, then escaped for rich markup: shown exactly as written."""
    from rich.markup import escape

    return escape(clean(value))


def wants_colour(stream: object) -> bool:
    """Colour on ``stream``: only on a terminal, never when piped, and never when the
    ``NO_COLOR`` environment variable is set to anything (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):  # no such method, or a closed stream
        return False


_SEVERITY_SGR = {
    "critical": "1;31",  # bold red
    "error": "1;31",
    "warning": "33",  # yellow
    "ok": "32",  # green
    "info": "36",  # cyan
}


def paint(text: str, severity: str) -> str:
    """``text`` (already :func:`clean`) in the colour of ``severity`` (ANSI SGR codes)."""
    code = _SEVERITY_SGR.get(severity.lower())
    return f"\x1b[{code}m{text}\x1b[0m" if code else text


def clean_text(text: str) -> str:
    """:func:`clean` for text of several lines: each line cleaned, the line breaks kept."""
    return "\n".join(clean(part) for part in text.split("\n"))


class CleanWriter:
    """A text stream that passes everything written through :func:`clean_text`.

    For commands whose plain output is assembled from log data in many places (alert lists,
    health and retention reports): wrap the output once instead of every field. Not for
    rich output, whose own escape sequences it would remove.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(clean_text(text))

    @property
    def raw(self) -> TextIO:
        """The stream itself, for the command's own escape sequences (colour) around text
        it has cleaned already."""
        return self._stream

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, ... of the real stream
        return getattr(self._stream, name)


# What orjson leaves raw in a JSON line: DEL, C1 (U+0080-009F, two bytes in UTF-8), the
# bidi controls and the line/paragraph separators. Inside JSON they can only be in strings.
_JSON_RAW = re.compile(
    rb"\x7f|\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]|\xd8\x9c"
)


def json_escape_controls(line: bytes) -> bytes:
    """A JSON line with those characters written as ``\\uXXXX`` escapes: the same JSON value,
    inert on a terminal (ESC, BEL and the other C0 codes the encoder escapes already)."""
    return _JSON_RAW.sub(lambda m: b"\\u%04x" % ord(m.group().decode()), line)


def clean_line(line: bytes) -> bytes:
    """One line of UTF-8 text (without its ``\n``) through :func:`clean`; a ``\r`` ending
    it (CSV's line ending) is kept."""
    body, end = (line[:-1], b"\r") if line.endswith(b"\r") else (line, b"")
    return clean(body.decode("utf-8", "replace")).encode() + end


class InertLines(io.RawIOBase):
    """A binary stream to a terminal that passes each line written through ``transform``
    (:func:`json_escape_controls` for JSON lines, :func:`clean_line` for other text): for
    data a command writes to standard output, when that is a terminal."""

    def __init__(self, stream: BinaryIO, transform: Callable[[bytes], bytes]) -> None:
        super().__init__()
        self._stream = stream
        self._transform = transform
        self._pending = b""

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        data = bytes(data)
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        for line in lines:
            self._stream.write(self._transform(line) + b"\n")
        if lines:
            self._stream.flush()  # a screen shows each line as it comes
        return len(data)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(self._transform(self._pending))
            self._pending = b""
        self._stream.flush()
