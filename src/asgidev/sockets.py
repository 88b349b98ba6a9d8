"""Bind listening sockets (TCP, IPv6, Unix domain, inherited fd), with clear errors.

The supervisor binds once here and hands the sockets to each worker.
"""

from __future__ import annotations

import errno
import os
import socket
import stat

from asgidev.config import DEFAULT_HOST, Config
from asgidev.errors import AddressInUseError, ConfigError

# Pending connections the kernel queues for us. Large, because during a reload
# nobody accepts for a few hundred milliseconds and queued clients must wait,
# not be refused. The server passes the same value to asyncio.
LISTEN_BACKLOG = 2048


def bind_sockets(config: Config) -> list[socket.socket]:
    """Bind and listen as ``config`` says; the sockets are inheritable by workers.

    Raises:
        AddressInUseError: the port is taken.
        ConfigError: the address cannot be bound (unknown host, permission, bad fd).
    """
    if config.fd is not None:
        sock = _from_fd(config.fd)
    elif config.uds is not None:
        sock = _bind_unix(config.uds)
    else:
        sock = _bind_tcp(config.host, config.port, config.app)
    sock.set_inheritable(True)
    return [sock]


def _bind_tcp(host: str, port: int, app: str | None = None) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"Cannot resolve the address {host!r}: {exc.strerror}.", "Use an IP address such as 127.0.0.1.") from None
    # Prefer IPv4 for names like "localhost" that resolve to both, as runserver does.
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name != "nt":
            # Lets a restarted server bind at once despite TIME_WAIT connections.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise AddressInUseError(
                f"Error: port {port} on {host} is already in use.",
                f"Stop the other server, or pick another port: '{_command_on_port(host, port + 1 if port < 65535 else 8001, app)}'"
                " (or --port 0 for any free port).",
            ) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            reason = "Ports below 1024 need privileges (root or CAP_NET_BIND_SERVICE)" if 0 < port < 1024 else "The system refused it"
            raise ConfigError(
                f"Error: no permission to bind {shown}.", f"{reason}; use a port such as 8000: '{_command_on_port(host, 8000, app)}'."
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(
                f"Error: {host} is not an address of this machine.", "Use 127.0.0.1, 0.0.0.0 or one of this machine's addresses."
            ) from None
        raise ConfigError(f"Error: cannot bind {shown}: {exc.strerror}.") from None
    sock.setblocking(False)
    return sock


def _command_on_port(host: str, port: int, app: str | None) -> str:
    """The ``asgidev`` command line serving ``app`` on ``port`` instead (runserver's ADDRPORT form)."""
    addrport = str(port) if host == DEFAULT_HOST else f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return " ".join(["asgidev", *([app] if app else []), addrport])


def _bind_unix(path: str) -> socket.socket:
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise ConfigError(f"Error: {path} exists and is not a socket.", "Choose another --uds path; asgidev will not overwrite a file.")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # a stale socket left by a server that died
        else:
            raise AddressInUseError(f"Error: a server is already listening on {path}.", "Stop it, or choose another --uds path.")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"Error: cannot bind Unix socket {path}: {exc.strerror}.") from None
    sock.setblocking(False)
    return sock


def _from_fd(fd: int) -> socket.socket:
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ConfigError(f"Error: file descriptor {fd} is not a usable socket: {exc.strerror}.") from None
    if sock.type != socket.SOCK_STREAM:
        raise ConfigError(f"Error: file descriptor {fd} is not a stream socket.")
    sock.setblocking(False)
    return sock


def socket_url(sock: socket.socket, scheme: str = "http") -> str:
    """The URL clients use to reach ``sock``."""
    if sock.family == getattr(socket, "AF_UNIX", None):
        return f"unix:{sock.getsockname()}"
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def peer_address(info: object) -> tuple[str, int] | None:
    """A transport's ``peername``/``sockname`` as ASGI's ``(host, port)``, or None (Unix sockets)."""
    if isinstance(info, tuple) and len(info) >= 2:
        return (str(info[0]), int(info[1]))
    return None


def describe_peer(address: tuple[str, int] | None) -> str:
    """``127.0.0.1:53012`` for log lines."""
    return f"{address[0]}:{address[1]}" if address else "a client"
