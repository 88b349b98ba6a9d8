"""Links that open a file at a line in the developer's editor (``--editor``).

An editor is a name (``vscode``, ``cursor``, ``pycharm``, ``sublime``) or a URL
template with ``{file}`` and ``{line}``. Without ``--editor`` (or
``ASGIDEV_EDITOR``), the editor is guessed from ``$VISUAL`` / ``$EDITOR`` when
they name one of the known editors; otherwise frames show plain ``file:line``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import PurePath
from urllib.parse import quote

from asgidev.errors import ConfigError

# The URL schemes each editor registers with the desktop (as Werkzeug, Whoops and Ignition use them).
EDITOR_URLS = {
    "vscode": "vscode://file{file}:{line}",
    "cursor": "cursor://file{file}:{line}",
    "pycharm": "pycharm://open?file={file}&line={line}",
    "sublime": "subl://open?url=file://{file}&line={line}",
}
# Commands in $VISUAL/$EDITOR that name a known editor.
EDITOR_COMMANDS = {
    "code": "vscode",
    "code-insiders": "vscode",
    "cursor": "cursor",
    "pycharm": "pycharm",
    "pycharm.sh": "pycharm",
    "charm": "pycharm",
    "subl": "sublime",
    "sublime_text": "sublime",
}
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
# A link that runs code or embeds content instead of opening an editor.
_REFUSED_SCHEMES = ("javascript:", "data:", "vbscript:")


def check_editor(value: str) -> None:
    """Refuse an ``--editor`` value that is neither a known name nor a usable URL template.

    Raises:
        ConfigError: the value names no known editor and is not a URL with ``{file}`` and ``{line}``.
    """
    if value in EDITOR_URLS:
        return
    names = ", ".join(EDITOR_URLS)
    if "{file}" not in value or "{line}" not in value or not _SCHEME.match(value):
        raise ConfigError(
            f"--editor {value!r} is neither an editor asgidev knows nor a URL template.",
            f"Use one of {names}, or a URL with {{file}} and {{line}}, e.g. 'myeditor://open?file={{file}}&line={{line}}'.",
        )
    if value.lower().startswith(_REFUSED_SCHEMES):
        raise ConfigError(f"--editor {value!r} would run code, not open an editor.", f"Use one of {names}, or an editor's URL scheme.")


def link_template(option: str | None, environ: Mapping[str, str]) -> str | None:
    """The URL template for editor links: ``--editor``, else a known editor in $VISUAL/$EDITOR, else None."""
    if option:
        return EDITOR_URLS.get(option, option)
    for variable in ("VISUAL", "EDITOR"):
        name = _command_name(environ.get(variable, ""))
        if name in EDITOR_COMMANDS:
            return EDITOR_URLS[EDITOR_COMMANDS[name]]
    return None


def editor_link(template: str, file: str, line: int) -> str:
    """The link opening the absolute path ``file`` at ``line``; the path in URL form, so it cannot break the URL.

    ``{file}`` becomes a path starting with ``/`` (``C:\\x.py`` becomes ``/C:/x.py``), as ``file://`` URLs spell it.
    """
    path = file.replace("\\", "/")
    path = path if path.startswith("/") else "/" + path
    return template.replace("{file}", quote(path, safe="/:")).replace("{line}", str(line))


def _command_name(command: str) -> str:
    try:
        words = shlex.split(command)
    except ValueError:
        return ""
    return PurePath(words[0]).name.lower() if words else ""
