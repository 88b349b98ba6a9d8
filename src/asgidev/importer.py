"""Import the user's ASGI app from ``module:attribute``.

Every failure becomes an ``AppImportError`` naming the problem; when the
user's own module raised, the traceback is cut down to the user's frames.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgidev._types import ASGIApp, Receive, Scope, Send
from asgidev.errors import AppImportError

DEFAULT_ATTRIBUTES = ("application", "app")


@dataclass(frozen=True, slots=True)
class ImportedApp:
    """An imported app, the full ``module:attribute`` it was found at, and lines worth printing about it."""

    app: ASGIApp
    spec: str
    notes: tuple[str, ...] = ()


def import_app(spec: str, app_dir: str = ".", *, factory: bool = False) -> ASGIApp:
    """Import and return the ASGI 3 app named by ``spec`` (see ``resolve_app``).

    Raises:
        AppImportError: as ``resolve_app``.
    """
    return resolve_app(spec, app_dir, factory=factory).app


def resolve_app(spec: str, app_dir: str = ".", *, factory: bool = False) -> ImportedApp:
    """Import the app named by ``spec``; a WSGI app comes back adapted to ASGI (``asgidev[wsgi]``).

    Raises:
        AppImportError: the module or attribute is missing, the import raised,
            or the object is not a callable ASGI or WSGI app.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or (":" in spec and not attribute):
        raise AppImportError(f"{spec!r} is not an app path.", "Use 'module:attribute', for example 'mysite.asgi:application'.")
    path = os.path.abspath(app_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    module = _import_module(module_name, path)
    candidates = (attribute,) if attribute else DEFAULT_ATTRIBUTES
    for name in candidates:
        obj = module
        try:
            for part in name.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        break
    else:
        wanted = " or ".join(repr(c) for c in candidates)
        raise AppImportError(
            f"Module {module_name!r} has no attribute {wanted}.",
            f"Name the app explicitly: 'asgidev {module_name}:<attribute>'.",
            is_path_error=True,
        )
    full_spec = f"{module_name}:{name}"
    if factory:
        if not callable(obj):
            raise AppImportError(f"{spec!r} is not callable, so it cannot be an app factory.", "Drop --factory.")
        try:
            obj = obj()
        except Exception as exc:
            raise AppImportError(
                f"The app factory {spec!r} raised {type(exc).__name__}: {exc}",
                user_traceback=format_user_traceback(exc),
            ) from exc
    if is_wsgi(obj):
        from asgidev.wsgi import adapt_wsgi

        return ImportedApp(adapt_wsgi(obj, full_spec), full_spec, (f"{full_spec} is a WSGI app: serving it through a2wsgi.",))
    return ImportedApp(as_asgi3(obj, spec), full_spec)


def _import_module(module_name: str, path: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise AppImportError(
                f"Could not import module {module_name!r} (looked in {path} and on sys.path).",
                "Run asgidev from your project directory, or pass --app-dir.",
                is_path_error=True,
            ) from exc
        raise _raised_during_import(module_name, exc) from exc
    except Exception as exc:
        raise _raised_during_import(module_name, exc) from exc


def _raised_during_import(module_name: str, exc: BaseException) -> AppImportError:
    return AppImportError(
        f"Importing {module_name!r} raised {type(exc).__name__}: {exc}",
        "Fix the error in your code; the traceback shows where it is.",
        user_traceback=format_user_traceback(exc),
    )


def format_user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without the import machinery's and asgidev's frames."""
    tb = exc.__traceback__
    frames = [f for f in traceback.extract_tb(tb) if not _is_internal(f.filename)]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


_INTERNAL_DIRS = (os.path.dirname(importlib.__file__), os.path.dirname(__file__))


def _is_internal(filename: str) -> bool:
    """Frames of the import machinery and of asgidev itself, which the user need not see."""
    if filename.startswith("<frozen "):
        return True
    directory = os.path.dirname(os.path.abspath(filename))
    return any(directory == d or directory.startswith(d + os.sep) for d in _INTERNAL_DIRS)


def as_asgi3(obj: Any, name: str) -> ASGIApp:
    """Return ``obj`` as an ASGI 3 app, wrapping ASGI 2 apps.

    Raises:
        AppImportError: ``obj`` is not callable.
    """
    if not callable(obj):
        raise AppImportError(
            f"{name!r} is a {type(obj).__name__}, not an ASGI app (not callable).",
            "Point asgidev at the ASGI application object, e.g. 'mysite.asgi:application'.",
        )
    if _is_asgi2(obj):
        return _wrap_asgi2(obj)
    return obj  # type: ignore[no-any-return]


def is_wsgi(obj: Any) -> bool:
    """A WSGI app (Flask, Django's WSGIHandler): a plain callable of ``(environ, start_response)``.

    ASGI 3 apps take three arguments and ASGI 2 apps one, so two positional
    parameters on a synchronous callable can only be WSGI (PEP 3333).
    """
    if inspect.isclass(obj) or not callable(obj):
        return False
    call = obj if inspect.isfunction(obj) or inspect.ismethod(obj) else getattr(obj, "__call__", None)  # noqa: B004
    if call is None or inspect.iscoroutinefunction(call) or asyncio.iscoroutinefunction(call):
        return False
    try:
        params = [p for p in inspect.signature(call).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return len(params) == 2


def _is_asgi2(obj: Any) -> bool:
    """ASGI 2 apps are classes (or callables) taking only ``scope``."""
    if inspect.isclass(obj):
        return not asyncio.iscoroutinefunction(getattr(obj, "__await__", None)) and not hasattr(obj, "__await__")
    call = obj if inspect.isfunction(obj) or inspect.ismethod(obj) else getattr(obj, "__call__", None)  # noqa: B004
    if call is None or asyncio.iscoroutinefunction(call):
        return False
    try:
        params = [p for p in inspect.signature(call).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return len(params) == 1


def _wrap_asgi2(app2: Callable[[Scope], Any]) -> ASGIApp:
    async def asgi3(scope: Scope, receive: Receive, send: Send) -> None:
        instance = app2(scope)
        await instance(receive, send)

    return asgi3
