"""The runtime: listening sockets, connections, timeouts and shutdown."""
