"""Parse runserver's ADDRPORT argument: ``8001``, ``0:8001``, ``0.0.0.0:9000``, ``[::1]:8000``, ``localhost:8000``."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from asgidev.errors import ConfigError

# Same shapes runserver accepts (django/core/management/commands/runserver.py),
# written independently: an optional address, then a port.
_ADDRPORT = re.compile(
    r"""^(?:(?P<addr>
        (?P<ipv4>\d{1,3}(?:\.\d{1,3}){3})
      | \[(?P<ipv6>[0-9a-fA-F:.]+)\]
      | (?P<name>[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*)
    ):)?(?P<port>\d+)$""",
    re.VERBOSE,
)

_HINT = "Use a port (8001), address:port (0.0.0.0:9000) or [ipv6]:port ([::1]:8000)."


@dataclass(frozen=True, slots=True)
class AddrPort:
    """A parsed ADDRPORT; ``host`` is None when only a port was given."""

    host: str | None
    port: int


def parse_addrport(text: str) -> AddrPort:
    """Parse ADDRPORT as runserver does.

    Raises:
        ConfigError: when ``text`` is not one of the accepted shapes.
    """
    match = _ADDRPORT.match(text.strip())
    if match is None:
        raise ConfigError(f"{text!r} is not a valid port number or address:port pair.", _HINT)
    port = int(match["port"])
    if port > 65535:
        raise ConfigError(f"Port {port} is out of range.", _HINT)
    if match["ipv4"] is not None:
        try:
            ipaddress.IPv4Address(match["ipv4"])
        except ValueError:
            raise ConfigError(f"{match['ipv4']!r} is not a valid IPv4 address.", _HINT) from None
        return AddrPort(match["ipv4"], port)
    if match["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(match["ipv6"])
        except ValueError:
            raise ConfigError(f"{match['ipv6']!r} is not a valid IPv6 address.", _HINT) from None
        return AddrPort(match["ipv6"], port)
    if match["name"] is not None:
        # runserver's shorthand: "0" means every IPv4 interface.
        if match["name"] == "0":
            return AddrPort("0.0.0.0", port)
        if all(part.isdigit() for part in match["name"].split(".")):
            # Numbers that are not a full IPv4 address ("1.2.3") would resolve to surprising addresses.
            raise ConfigError(f"{text!r} is not a valid address.", _HINT)
        return AddrPort(match["name"], port)
    return AddrPort(None, port)


def split_positionals(app: str | None, addrport: str | None) -> tuple[str | None, str | None]:
    """Turn the command line's ``[APP] [ADDRPORT]`` into (app, addrport).

    runserver's first habit is ``runserver 8001``: a lone positional that is a
    valid ADDRPORT is the address, never an app. No app path can be mistaken for
    one, because an ADDRPORT always ends in a port number and a module or
    attribute name never starts with a digit.
    """
    if app is not None and addrport is None and _ADDRPORT.match(app.strip()) is not None:
        return None, app
    return app, addrport
