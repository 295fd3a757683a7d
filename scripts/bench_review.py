"""Benchmark: first render of ``lifbatch review`` on a 10^4-point store (100 x 100 grid).

Writes a synthetic store (tests/_synthetic.py layout) unless --store is given, serves
it with ``lifbatch.review.serve`` in a subprocess on 127.0.0.1, and opens the page in
headless Chromium several times. For each page it reports the time from navigation to
every visible plot finished drawing (Bokeh's ``has_finished``). The first page of a
fresh server includes the server's one-off warm-up; later pages are what a user who
reloads sees. Also reports ``make_app`` and the Python side of rendering in-process.

Usage::

    python scripts/bench_review.py [--store PATH] [--pages 3] [--n 100]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
N_PLOTS_JS = """() => { if (!(window.Bokeh && Bokeh.index)) return 0; let n = 0;
  const walk = (v) => { if (v.frame && v.model.title && v.has_finished()) n++;
                        for (const c of (v.child_views || [])) walk(c); };
  for (const v of Bokeh.index.roots) walk(v); return n; }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"server did not listen on port {port} within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="existing store (default: write a synthetic one)")
    parser.add_argument("--n", type=int, default=100, help="values per axis (n x n points)")
    parser.add_argument("--pages", type=int, default=3, help="page loads to time")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    if args.store:
        store = Path(args.store)
    else:
        from _synthetic import write_synthetic_store

        store = Path(tmp.name) / "bench.zarr"
        t0 = time.perf_counter()
        write_synthetic_store(store, n_x=args.n, n_y=args.n, trials=4, duration=0.1,
                              record_every=1e-3, record_trials=(0,), block=10)
        print(f"wrote {args.n}x{args.n} synthetic store in {time.perf_counter() - t0:.1f} s")

    # in-process: building the app and its Bokeh models (the server's share of a page)
    from lifbatch.review import make_app

    t0 = time.perf_counter()
    app = make_app(str(store))
    t1 = time.perf_counter()
    app.get_root()
    t2 = time.perf_counter()
    print(f"in-process: make_app {t1 - t0:.2f} s, bokeh models {t2 - t1:.2f} s (first call)")

    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    server = subprocess.Popen(
        [sys.executable, "-c", "import sys; from lifbatch.review import serve; "
         f"serve(sys.argv[1], port={port}, open_browser=False)", str(store)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_port(port)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            times = []
            for i in range(args.pages):
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                t0 = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_function(f"() => ({N_PLOTS_JS})() >= 6", timeout=120_000)
                dt = time.perf_counter() - t0
                times.append(dt)
                print(f"page {i + 1}: all plots drawn {dt:.2f} s after navigation"
                      f"{' (fresh server)' if i == 0 else ''}; console errors: {len(errors)}")
                page.close()
            browser.close()
        print(f"first render: fresh server {times[0]:.2f} s; "
              f"later pages median {sorted(times[1:])[len(times[1:]) // 2]:.2f} s"
              if len(times) > 1 else f"first render {times[0]:.2f} s")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        tmp.cleanup()


if __name__ == "__main__":
    main()
