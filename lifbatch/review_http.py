"""The review app's server (:func:`lifbatch.review.serve`): a port refused in one line before
serving, a free port, requests answered only for this server's host names, and each browser
session's app built in advance (:func:`prepare`, :func:`session_app`) by the builder the app
module hands in, so that this module knows nothing of the app."""

from __future__ import annotations

import errno
import socket
import sys
import threading
from os import PathLike
from pathlib import Path
from typing import Any, Callable

from lifbatch import storage
from lifbatch.errors import WorkflowError
from lifbatch.review_store import store_signature

__all__ = ["check_port", "free_port", "only_hosts", "port_error", "prepare", "session_app", "run_server"]

#: builds the app's layout of a store path or a Dataset (:func:`lifbatch.review.make_app`
#: without loading Panel's extension again)
Build = Callable[[Any], Any]


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


#: {store path: (store signature, app layout)}: the app of the next browser session,
#: built in advance (before serving, then after each page has loaded)
_SPARE: dict[str, tuple[tuple, Any]] = {}
_SPARE_LOCK = threading.Lock()
#: {store path: thread building its next app}
_PREPARING: dict[str, threading.Thread] = {}


def prepare(store: str | PathLike, build: Build) -> None:
    """Build the app of the next session now, if the store is not being written."""
    if storage.is_url(store):  # (an object store's objects have no file signature: each page reads the store)
        return
    path = Path(store)
    try:
        sig = store_signature(path)
        if sig is None:
            return
        layout = build(store)
        if store_signature(path) != sig:  # (changed while reading it)
            return
    except Exception:  # (the session then builds its own app, and shows what fails)
        return
    with _SPARE_LOCK:
        _SPARE[str(path)] = (sig, layout)


def session_app(store: Any, build: Build):
    """The app of a new browser session (called by the server for each page).

    A store's app is built in advance while the browser of the previous page is idle, and
    used if the store has not changed since (every file's modification time, size and
    inode); otherwise, and for a Dataset, it is built now. Either way the page shows the
    store as it is when the page is requested.
    """
    import panel as pn  # (deferred: Panel comes with the `review` extra; this runs in its server)

    if not isinstance(store, (str, PathLike)):  # a Dataset
        return build(store)
    path = Path(store)
    preparing = _PREPARING.pop(str(path), None)
    if preparing is not None:  # nearly ready: finishing it is quicker than starting again
        preparing.join()
    with _SPARE_LOCK:
        spare = _SPARE.pop(str(path), None)
    layout = None
    if spare is not None and store_signature(path) == spare[0]:
        layout = spare[1]
    if layout is None:
        layout = build(store)
    pn.state.onload(lambda: _prepare_next(store, build))
    return layout


def _prepare_next(store: str | PathLike, build: Build) -> None:
    """Build the next page's app in a thread, once this page is drawn (the server is idle)."""
    key = str(Path(store))
    if key in _PREPARING:
        return
    thread = threading.Thread(target=prepare, args=(store, build), name="lifbatch-review-next-page", daemon=True)
    _PREPARING[key] = thread
    thread.start()


def run_server(pn, page: Callable[[], Any], *, address: str, port: int, open_browser: bool, **kwargs: Any) -> None:
    """Serve ``page()`` (a new session's app) at ``/`` of ``http://address:port/`` with Panel
    (``pn``) until interrupted, answering only this server's host names (:func:`only_hosts`)."""
    origins = {f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"}
    url = f"http://{address}:{port}/"
    try:
        server = pn.serve(
            {"/": page},
            port=port,
            address=address,
            websocket_origin=sorted(origins),
            show=False,
            start=False,
            title="lifbatch review",
            verbose=False,
            **kwargs,
        )
    except OSError as exc:  # taken meanwhile
        raise port_error(address, port, exc) from None
    only_hosts(server._tornado, origins)
    server.start()
    print(f"lifbatch review: serving at {url} (Ctrl+C to stop)", flush=True)
    if open_browser:
        server.show("/")
    server.io_loop.start()
    sys.stdout.flush()
