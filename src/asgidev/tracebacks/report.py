"""What a traceback page shows, taken from a live exception: the chain, groups, notes, frames, source and locals.

The report is plain data, built once per exception and rendered as HTML, JSON
or an overlay. Everything taken from the exception is bounded: a repr that
raises becomes a placeholder, a huge one is cut, and chains, groups, frames and
locals stop at a named limit, so no exception can make the page itself fail or
grow without end.
"""

from __future__ import annotations

import linecache
import os
import reprlib
import sysconfig
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import asgidev

# Lines of source shown before and after the failing line.
CONTEXT_LINES = 3
# Exceptions followed along __cause__/__context__; real chains have two or three.
MAX_CHAIN = 8
# Sub-exceptions shown per exception group, and how deep nested groups are followed.
MAX_GROUP_MEMBERS = 10
MAX_GROUP_DEPTH = 3
# Frames shown per exception: the innermost ones, where the error is (a deep recursion has ~1000).
MAX_FRAMES = 40
# Local variables shown per frame, and the length of each repr.
MAX_LOCALS = 40
MAX_REPR_CHARS = 400
# Length of an exception message or note as shown.
MAX_MESSAGE_CHARS = 4000

_OWN_ROOT = str(Path(asgidev.__file__).parent.resolve())
_LIBRARY_ROOTS = (*{str(Path(sysconfig.get_path(name)).resolve()) for name in ("stdlib", "platstdlib")}, _OWN_ROOT)


@dataclass(frozen=True, slots=True)
class SourceLine:
    number: int
    text: str
    is_failing: bool


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a traceback; user frames (the developer's own code) are shown first and expanded."""

    filename: str
    lineno: int
    function: str
    source: tuple[SourceLine, ...]
    locals: tuple[tuple[str, str], ...]
    is_user: bool

    @property
    def failing_line(self) -> str:
        return next((line.text.strip() for line in self.source if line.is_failing), "")


@dataclass(frozen=True, slots=True)
class ExceptionReport:
    """One exception: ``relation`` says how it leads to the one shown before it ("" for the exception that escaped)."""

    type_name: str
    message: str
    notes: tuple[str, ...]
    frames: tuple[Frame, ...]
    relation: str
    members: tuple[ExceptionReport, ...]  # an exception group's sub-exceptions
    omitted_frames: int = 0

    @property
    def headline(self) -> str:
        return f"{self.type_name}: {self.message}" if self.message else self.type_name


def build_report(exc: BaseException) -> tuple[ExceptionReport, ...]:
    """The exception that escaped, then the ones that led to it (its cause, or the one being handled)."""
    chain: list[ExceptionReport] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    relation = ""
    while current is not None and id(current) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(current))
        chain.append(_describe(current, relation, depth=0, is_escaped=not chain))
        if current.__cause__ is not None:
            current, relation = current.__cause__, "It was raised from"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, relation = current.__context__, "It was raised while handling"
        else:
            current = None
    return tuple(chain)


def _describe(exc: BaseException, relation: str, depth: int, *, is_escaped: bool = False) -> ExceptionReport:
    entries = list(traceback.walk_tb(exc.__traceback__))
    if is_escaped:
        # The escaped exception's traceback starts in asgidev's middleware that caught it: not worth a look.
        while entries and is_own_file(entries[0][0].f_code.co_filename):
            del entries[0]
    omitted = max(0, len(entries) - MAX_FRAMES)
    members: tuple[ExceptionReport, ...] = ()
    if isinstance(exc, BaseExceptionGroup) and depth < MAX_GROUP_DEPTH:
        shown = exc.exceptions[:MAX_GROUP_MEMBERS]
        members = tuple(_describe(member, f"Sub-exception {i} of {len(exc.exceptions)}", depth + 1) for i, member in enumerate(shown, 1))
    try:
        notes = getattr(exc, "__notes__", ())
    except Exception:  # a property that raises: no notes rather than no page
        notes = ()
    return ExceptionReport(
        type_name=_type_name(type(exc)),
        message=_cut(_safe_str(exc), MAX_MESSAGE_CHARS),
        notes=tuple(_cut(_safe_str(note), MAX_MESSAGE_CHARS) for note in notes[:MAX_GROUP_MEMBERS])
        if isinstance(notes, (list, tuple))
        else (),
        frames=tuple(_frame(frame, lineno) for frame, lineno in entries[omitted:]),
        relation=relation,
        members=members,
        omitted_frames=omitted,
    )


def _frame(frame: FrameType, lineno: int | None) -> Frame:
    filename = frame.f_code.co_filename
    line = lineno or frame.f_lineno or 0
    return Frame(
        filename=filename,
        lineno=line,
        function=frame.f_code.co_qualname,
        source=_source(filename, line, frame.f_globals),
        locals=_locals(frame),
        is_user=is_user_file(filename),
    )


def _source(filename: str, lineno: int, module_globals: dict[str, object]) -> tuple[SourceLine, ...]:
    linecache.checkcache(filename)  # the file may have been edited since it was imported
    lines = []
    for number in range(max(1, lineno - CONTEXT_LINES), lineno + CONTEXT_LINES + 1):
        text = linecache.getline(filename, number, module_globals)
        if not text:
            break
        lines.append(SourceLine(number, _cut(text.rstrip("\r\n"), MAX_REPR_CHARS), number == lineno))
    while lines and not lines[-1].is_failing and not lines[-1].text.strip():
        lines.pop()  # blank lines after the function say nothing
    return tuple(lines)


_repr = reprlib.Repr()
_repr.maxstring = MAX_REPR_CHARS
_repr.maxother = MAX_REPR_CHARS
_repr.maxlevel = 3


def _locals(frame: FrameType) -> tuple[tuple[str, str], ...]:
    items = list(frame.f_locals.items())
    shown = [(name, safe_repr(value)) for name, value in items[:MAX_LOCALS]]
    if len(items) > MAX_LOCALS:
        shown.append(("…", f"{len(items) - MAX_LOCALS} more"))
    return tuple(shown)


def safe_repr(value: object) -> str:
    """A repr bounded to MAX_REPR_CHARS that never raises (an app's broken ``__repr__`` must not break the page)."""
    try:
        text = _repr.repr(value)
    except Exception as exc:  # any __repr__ may raise anything
        text = f"<repr of {_type_name(type(value))} failed: {_type_name(type(exc))}>"
    return _cut(text, MAX_REPR_CHARS)


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception as exc:  # any __str__ may raise anything
        return f"<str() failed: {_type_name(type(exc))}>"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _type_name(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"


def is_own_file(filename: str) -> bool:
    """True for asgidev's own modules."""
    return filename.startswith(_OWN_ROOT + os.sep)


def is_user_file(filename: str) -> bool:
    """True for the developer's code: not the standard library, not an installed package, not asgidev."""
    if filename.startswith("<"):
        return False  # <frozen importlib._bootstrap>, <string>
    parts = Path(filename).parts
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    try:
        resolved = str(Path(filename).resolve())
    except OSError:
        return True
    return not any(resolved == root or resolved.startswith(root + os.sep) for root in _LIBRARY_ROOTS)
