"""Error types that carry meaning: a one-line message and a hint on how to fix it.

Library code raises these; only ``cli.py`` turns them into exit codes.
"""

from __future__ import annotations


class AsgidevError(Exception):
    """A user mistake (bad option, busy port, bad app path) with a fix hint."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return join_sentences(self.message, self.hint)


def join_sentences(*parts: str) -> str:
    """Parts joined into one line, each ending as a sentence, so messages never run together."""
    sentences = []
    for part in parts:
        part = part.strip()
        if part:
            sentences.append(part if part[-1] in ".!?" else part + ".")
    return " ".join(sentences)


class ConfigError(AsgidevError):
    """An option has a value asgidev cannot use."""


class AddressInUseError(AsgidevError):
    """The address to bind is already taken by another process."""


class AppImportError(AsgidevError):
    """The user's app could not be imported.

    ``user_traceback`` holds the formatted traceback of the user's own code when
    their module raised while importing (empty when the path itself was wrong).
    ``is_path_error`` is True when the module or attribute named does not exist:
    the command line is at fault, not the user's code.
    """

    def __init__(self, message: str, hint: str = "", user_traceback: str = "", *, is_path_error: bool = False) -> None:
        super().__init__(message, hint)
        self.user_traceback = user_traceback
        self.is_path_error = is_path_error


class LifespanStartupError(AsgidevError):
    """The app's lifespan startup failed (``--lifespan on`` or a reported failure).

    ``details`` holds a traceback the app sent with its failure (Litestar sends one), shown below the message.
    """

    def __init__(self, message: str, hint: str = "", details: str = "") -> None:
        super().__init__(message, hint)
        self.details = details
