"""The review server's socket and host checks (:func:`lifbatch.review.serve`): a port refused
in one line before serving, a free port, and requests answered only for this server's host names."""

from __future__ import annotations

import errno
import socket

from lifbatch.errors import WorkflowError

__all__ = ["check_port", "free_port", "only_hosts", "port_error"]


def check_port(address: str, port: int) -> None:
    """Refuse ``port`` in one line when this machine cannot listen on it (in use, or
    reserved), bound as tornado binds it (SO_REUSEADDR: a port in TIME_WAIT is free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as exc:
            raise port_error(address, port, exc) from None


def port_error(address: str, port: int, exc: OSError):
    why = "it is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc)).lower()
    return WorkflowError(
        f"`--port` {port}: cannot serve on {address}:{port}, {why}. Choose another port, or "
        "leave out --port to take a free one.",
        "--port",
        port,
    )


def free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def only_hosts(app, hosts: set[str]) -> None:
    """Answer only requests whose Host header names this server (``hosts``): 403 otherwise.

    The websocket's Origin check alone lets a page on any host name that resolves to
    127.0.0.1 (DNS rebinding) drive the app, since its Origin then equals its Host.
    """
    import tornado.web  # (here: tornado comes with the `review` extra, as Panel does)

    allowed = {h.lower() for h in hosts}
    find = app.find_handler

    def find_handler(request, **kwargs):
        if (request.host or "").lower() not in allowed:
            return app.get_handler_delegate(request, tornado.web.ErrorHandler, {"status_code": 403})
        return find(request, **kwargs)

    app.find_handler = find_handler
