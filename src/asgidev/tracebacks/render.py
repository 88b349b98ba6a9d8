"""A traceback report as an HTML page, an overlay, ``application/problem+json`` (RFC 9457) or plain text.

Markup comes from ``templates/traceback.html`` and every value taken from the
exception is escaped there; user frames are open, runs of library frames fold
into one closed group.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from asgidev.editors import editor_link
from asgidev.pages import raw_template, render_part
from asgidev.tracebacks.report import ExceptionReport, Frame, is_own_file

TEMPLATE = "traceback.html"


@dataclass(frozen=True, slots=True)
class Rendering:
    """What every rendering needs besides the report."""

    request: str  # "GET /items?page=2"
    editor: str | None  # the editor's URL template, or None for plain file:line


def html_page(chain: Sequence[ExceptionReport], how: Rendering) -> str:
    """The whole 500 page."""
    return render_part(TEMPLATE, "page", _shared_markup(chain, how), title=chain[0].headline, request=how.request)


def overlay_markup(chain: Sequence[ExceptionReport], how: Rendering) -> str:
    """The overlay the live-reload script puts over the open page (inside a shadow root, so styles do not leak)."""
    return render_part(TEMPLATE, "overlay", _shared_markup(chain, how), title=chain[0].headline, request=how.request)


def problem_json(chain: Sequence[ExceptionReport], how: Rendering) -> bytes:
    """The same facts, short: no source context and no locals, frames as file, line, function and code."""
    body = {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": chain[0].headline,
        "request": how.request,
        "exceptions": [_exception_json(exc) for exc in chain],
    }
    return json.dumps(body, indent=2, ensure_ascii=False).encode()


def plain_text(exc: BaseException, how: Rendering) -> bytes:
    """Python's own traceback text (chain, groups and notes included), under a one-line summary."""
    described = traceback.TracebackException.from_exception(exc)
    while described.stack and is_own_file(described.stack[0].filename):
        del described.stack[0]  # asgidev's middleware, where the exception was caught
    text = "".join(described.format())
    return f"500 Internal Server Error · {how.request}\n\n{text}".encode(errors="replace")


def _shared_markup(chain: Sequence[ExceptionReport], how: Rendering) -> dict[str, str]:
    return {
        "style": raw_template("traceback.css"),
        "where": _where(chain[0], how),
        "exceptions": "".join(_exception(exc, how) for exc in chain),
    }


def _where(exc: ExceptionReport, how: Rendering) -> str:
    """The innermost frame of the developer's own code: the first place to look."""
    frame = next((f for f in reversed(exc.frames) if f.is_user), None)
    if frame is None:
        return ""
    return render_part(TEMPLATE, "where", {"location": _location(frame, how)}, function=frame.function)


def _exception(exc: ExceptionReport, how: Rendering) -> str:
    omitted = f"{exc.omitted_frames} outer frames not shown." if exc.omitted_frames else ""
    return render_part(
        TEMPLATE,
        "exception",
        {
            "notes": "".join(render_part(TEMPLATE, "note", note=note) for note in exc.notes),
            "frames": "".join(_frame_groups(exc.frames, how)),
            "members": "".join(_exception(member, how) for member in exc.members),
        },
        relation=exc.relation,
        type_name=exc.type_name,
        message=exc.message,
        omitted=omitted,
    )


def _frame_groups(frames: Sequence[Frame], how: Rendering) -> Iterator[str]:
    """User frames one by one, each run of library frames folded into one group."""
    run: list[str] = []
    for frame in frames:
        if frame.is_user:
            if run:
                yield _library_run(run)
                run = []
            yield _frame(frame, how)
        else:
            run.append(_frame(frame, how))
    if run:
        yield _library_run(run)


def _library_run(frames: list[str]) -> str:
    count = f"{len(frames)} library frame{'s' if len(frames) != 1 else ''}"
    return render_part(TEMPLATE, "library-frames", {"frames": "".join(frames)}, count=count)


def _frame(frame: Frame, how: Rendering) -> str:
    source = "".join(
        render_part(TEMPLATE, "source-line", state="failing" if line.is_failing else "", number=str(line.number), text=line.text)
        for line in frame.source
    )
    local_rows = "".join(render_part(TEMPLATE, "local", name=name, value=value) for name, value in frame.locals)
    return render_part(
        TEMPLATE,
        "frame",
        {"open": " open" if frame.is_user else "", "location": _location(frame, how), "source": source, "locals": local_rows},
        kind="user" if frame.is_user else "library",
        function=frame.function,
        failing=frame.failing_line,
    )


def _location(frame: Frame, how: Rendering) -> str:
    line = str(frame.lineno)
    if how.editor is not None and frame.is_user and not frame.filename.startswith("<"):
        return render_part(
            TEMPLATE, "location-link", href=editor_link(how.editor, frame.filename, frame.lineno), file=frame.filename, line=line
        )
    return render_part(TEMPLATE, "location-text", file=frame.filename, line=line)


def _exception_json(exc: ExceptionReport) -> dict[str, object]:
    described: dict[str, object] = {"type": exc.type_name, "message": exc.message}
    if exc.relation:
        described["relation"] = exc.relation
    if exc.notes:
        described["notes"] = list(exc.notes)
    described["frames"] = [
        {"file": f.filename, "line": f.lineno, "function": f.function, "code": f.failing_line, "is_user": f.is_user} for f in exc.frames
    ]
    if exc.members:
        described["exceptions"] = [_exception_json(member) for member in exc.members]
    return described
