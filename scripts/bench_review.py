"""Benchmark: first render of ``lifbatch review`` on a 10^4-point store (100 x 100 grid).

Writes a synthetic store (tests/_synthetic.py layout) unless --store is given, serves
it with ``lifbatch.review.serve`` in a subprocess on 127.0.0.1 (as ``lifbatch review``
does), and opens the page in headless Chromium several times, each in a new browser
context (nothing cached). For each page it reports the time from navigation to every
plot on the page finished drawing (Bokeh's ``has_finished``), and when the server's
HTML response started (the server's share). The first page is the first one a fresh
server serves; later pages are new visitors of a running server, each ``--pause``
seconds after the previous page was drawn (the server prepares the next page's app
while it is idle; with ``--pause 0`` pages follow each other faster than any user and
the server builds each page's app while the page waits). The last page is then
reloaded (the browser's cache warm, as for a user pressing F5), and two interactions
are timed on it: tapping a heatmap cell until the four drill-down plots are redrawn,
and switching to the ISI tab until its two plots are drawn.

Also reported: the server's start-up (launch until it listens; ``serve`` builds the
first page's app before listening), and, in-process, ``make_app`` and the Bokeh models
of one page (``get_root``): what the server does for a page whose app was not prepared.

The machine's load average is printed: other processes make every figure slower.

Usage::

    python scripts/bench_review.py [--store PATH] [--pages 5] [--pause 2] [--n 100]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: titles of the plots on the page that have finished drawing
FINISHED_JS = """() => { const out = []; if (!(window.Bokeh && Bokeh.index)) return out;
  const walk = (v) => { if (v.frame && v.model.title && v.has_finished())
                          out.push(v.model.title.text);
                        for (const c of (v.child_views || [])) walk(c); };
  for (const v of Bokeh.index.roots) walk(v); return out; }"""
#: page coordinates of the heatmap's data frame (the plot with a colour bar)
HEATMAP_FRAME_JS = """() => { let found = null;
  const walk = (v) => {
    if (v.frame && v.model.right && v.model.right.some(m => String(m).startsWith('ColorBar'))) {
      const r = v.canvas_view.el.getBoundingClientRect(); const b = v.frame.bbox;
      found = {left: r.left + b.left, top: r.top + b.top, width: b.width, height: b.height};
    }
    for (const c of (v.child_views || [])) walk(c);
  };
  for (const v of Bokeh.index.roots) walk(v);
  return found; }"""
N_PLOTS = 6  # first page: heatmap, rate curves, V ensemble, raster, ISI histogram, autocov


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"review server exited: {proc.stdout.read()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"server did not listen on port {port} within {timeout} s")


def wait_plots(page, predicate, timeout: float = 120) -> float:
    """Poll the finished plots until ``predicate(titles)``; return the time it took."""
    t0 = time.perf_counter()
    end = t0 + timeout
    while time.perf_counter() < end:
        if predicate(page.evaluate(FINISHED_JS)):
            return time.perf_counter() - t0
        time.sleep(0.02)
    raise TimeoutError(f"plots never matched; finished now: {page.evaluate(FINISHED_JS)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="existing store (default: write a synthetic one)")
    parser.add_argument("--n", type=int, default=100, help="values per axis (n x n points)")
    parser.add_argument("--pages", type=int, default=5, help="page loads to time")
    parser.add_argument(
        "--pause", type=float, default=2.0, help="seconds between a page drawn and the next action (a user's pace)"
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")

    tmp = tempfile.TemporaryDirectory()
    if args.store:
        store = Path(args.store)
    else:
        from _synthetic import write_synthetic_store

        store = Path(tmp.name) / "bench.zarr"
        t0 = time.perf_counter()
        write_synthetic_store(
            store, n_x=args.n, n_y=args.n, trials=4, duration=0.1, record_every=1e-3, record_trials=(0,), block=10
        )
        print(f"wrote {args.n}x{args.n} synthetic store in {time.perf_counter() - t0:.1f} s")
        time.sleep(2.5)  # (the app does not cache chunk files younger than 2 s)

    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys; from lifbatch.review import serve; serve(sys.argv[1], port={port}, open_browser=False)",
            str(store),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_port(port, server)
        print(f"server start-up (launch until listening, one page built): {time.perf_counter() - t0:.2f} s")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            times, errors = [], []
            page = None
            for i in range(args.pages):
                if page is not None:
                    time.sleep(args.pause)
                    page.close()
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                t0 = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/", wait_until="commit")
                dt = time.perf_counter() - t0 + wait_plots(page, lambda t: len(t) >= N_PLOTS)
                html = page.evaluate("() => performance.getEntriesByType('navigation')[0].responseStart") / 1e3
                times.append(dt)
                print(
                    f"page {i + 1}: all {N_PLOTS} plots drawn {dt:.2f} s after navigation "
                    f"(server's HTML response after {html:.2f} s)"
                    f"{' (fresh server)' if i == 0 else ''}"
                )
            # the last page reloaded: a user's reload, with the browser's cache warm
            time.sleep(args.pause)
            t0 = time.perf_counter()
            page.reload(wait_until="commit")
            reload = time.perf_counter() - t0 + wait_plots(page, lambda t: len(t) >= N_PLOTS)
            # interactions on the reloaded page
            time.sleep(args.pause)
            frame = page.evaluate(HEATMAP_FRAME_JS)
            before = page.evaluate(FINISHED_JS)
            t0 = time.perf_counter()
            page.mouse.click(frame["left"] + 0.05 * frame["width"], frame["top"] + 0.95 * frame["height"])
            tap = wait_plots(
                page,
                lambda t: (
                    len(t) >= N_PLOTS
                    and not set(t) & {x for x in before if x.startswith(("Membrane", "Spike", "ISI hist", "V auto"))}
                ),
            )
            page.get_by_text("ISI", exact=True).click()
            isi = wait_plots(
                page, lambda t: any(x.startswith("ISI mean") for x in t) and any(x.startswith("ISI CV") for x in t)
            )
            page.close()
            browser.close()
        later = times[1:]
        print(
            f"first render: fresh server {times[0]:.2f} s"
            + (
                f"; later pages median {statistics.median(later):.2f} s (min {min(later):.2f}, max {max(later):.2f})"
                if later
                else ""
            )
        )
        print(f"reload of a page (browser cache warm): {reload:.2f} s")
        print(f"interactions: heatmap tap -> drill-down redrawn {tap:.2f} s; ISI tab -> drawn {isi:.2f} s")
        print(f"console errors: {len(errors)}" + (f" {errors[:3]}" if errors else ""))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

    # in-process: building the app and its Bokeh models (the server's share of a page)
    from lifbatch.review import make_app

    for label in ("first call", "second call"):
        t0 = time.perf_counter()
        app = make_app(str(store))
        t1 = time.perf_counter()
        app.get_root()
        t2 = time.perf_counter()
        print(f"in-process ({label}): make_app {t1 - t0:.2f} s, get_root {t2 - t1:.2f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
