"""What the server prints for people: the startup banner and the warnings around it."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import sys
from collections.abc import Sequence

from asgidev import __version__
from asgidev.config import Config
from asgidev.envfile import banner_line
from asgidev.event_loop import describe_running_loop

PRODUCTION_WARNING = (
    "WARNING: This is a development server. Do not use it in a production setting. "
    "Use a production ASGI server such as uvicorn, hypercorn, granian or daphne instead."
)


def banner(*, app_label: str, urls: Sequence[str], is_reloading: bool, extra_lines: Sequence[str] = ()) -> str:
    """The startup text, in runserver's spirit."""
    now = datetime.datetime.now().strftime("%B %d, %Y - %X")
    # With reload on, the supervisor has already said what it watches (supervisor/watch_mode.py).
    lines = [now, f"asgidev {__version__}, serving {app_label}", *extra_lines]
    lines += [f"Starting ASGI server at {url}/" if url.startswith("http") else f"Starting ASGI server at {url}" for url in urls]
    lines += ["Quit the server with CONTROL-C.", "", PRODUCTION_WARNING]
    warning = network_warning(urls)
    if warning:
        lines.append(warning)
    return "\n".join(lines) + "\n"


def startup_banner(
    config: Config, *, app_label: str, sockets: Sequence[socket.socket], is_reloading: bool, extra_lines: Sequence[str] = ()
) -> str:
    """The banner for a server about to serve ``sockets`` as ``config`` says."""
    from asgidev.sockets import socket_url

    scheme = "https" if config.https or config.ssl_certfile else "http"
    lines = [*extra_lines, describe_running_loop(config.loop)]
    env_line = banner_line(config)
    if env_line:
        lines.append(env_line)
    if config.https:
        from asgidev.tls import dev_certificate, trust_hint

        lines.append(trust_hint(dev_certificate()[0]))
    if config.live_reload:
        lines.append("Live reload is on: HTML pages reload themselves after each code reload.")
    if config.expose_tracebacks:
        lines.append("Tracebacks, with source and local variables, are shown to every client (--expose-tracebacks).")
    urls = [socket_url(s, scheme) for s in sockets]
    return banner(app_label=app_label, urls=urls, is_reloading=is_reloading, extra_lines=lines)


def network_warning(urls: Sequence[str]) -> str:
    """A warning when the server is reachable from other machines, with where."""
    for url in urls:
        if not url.startswith("http"):
            continue
        host = url.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            continue
        if ip.is_loopback:
            continue
        reachable = _local_addresses() if ip.is_unspecified else [host]
        port = url.rsplit(":", 1)[1]
        where = ", ".join(f"http://{a}:{port}/" for a in reachable) or f"every address of this machine, port {port}"
        return f"WARNING: the server is reachable from the network ({where}). Anyone who can reach this machine can use it."
    return ""


def _local_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback: each interface's, else what its host name resolves to."""
    addresses = set(_interface_addresses())
    if not addresses:
        try:
            for info in socket.getaddrinfo(socket.gethostname(), None, family=socket.AF_INET):
                addresses.add(str(info[4][0]))
        except OSError:
            pass
    return sorted((a for a in addresses if not a.startswith("127.")), key=lambda a: ipaddress.ip_address(a))


# Linux's ioctl for an interface's IPv4 address (<linux/sockios.h>), and the size of struct ifreq.
_SIOCGIFADDR = 0x8915
_IFREQ_SIZE = 40


def _interface_addresses() -> list[str]:
    """Each network interface's IPv4 address (Linux; elsewhere none, and the host name is used)."""
    if not sys.platform.startswith("linux"):
        return []
    import fcntl
    import struct

    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request[:_IFREQ_SIZE])
            except OSError:
                continue  # an interface without an IPv4 address
            found.append(socket.inet_ntoa(answer[20:24]))
    return found
