"""Generate the README screenshots into docs/img/ with headless Chromium.

- ``docs/img/review.png``: ``lifbatch review`` on a store (the browser app);
- ``docs/img/report.png``: the top of the static ``lifbatch report`` page.

Usage::

    python scripts/screenshots.py [--store PATH]   # default: a synthetic 6 x 5 sweep
    python scripts/screenshots.py --store results/ccnss-sobol.zarr --review-name review-sampled.png --no-report

Needs Debian's chromium at /usr/bin/chromium (.ci/install-browser.sh) and playwright.
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
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
N_PLOTS_JS = """() => { if (!(window.Bokeh && Bokeh.index)) return 0; let n = 0;
  const walk = (v) => { if (v.frame && v.model.title && v.has_finished()) n++;
                        for (const c of (v.child_views || [])) walk(c); };
  for (const v of Bokeh.index.roots) walk(v); return n; }"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store to show (default: a synthetic sweep)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"), help="output folder")
    parser.add_argument("--review-name", default="review.png", help="file name of the review app's screenshot")
    parser.add_argument("--no-report", action="store_true", help="no screenshot of the report")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    tmp = tempfile.TemporaryDirectory()
    if args.store:
        store = Path(args.store)
    else:
        from _synthetic import write_synthetic_store

        store = write_synthetic_store(Path(tmp.name) / "sweep.zarr", n_x=6, n_y=5, trials=8, duration=0.3, block=3)
    from lifbatch.report import write_report

    report = None if args.no_report else write_report(store, Path(tmp.name) / "report.html")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys; from lifbatch.review import serve; serve(sys.argv[1], port={port}, open_browser=False)",
            str(store),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        end = time.time() + 120
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.time() > end or server.poll() is not None:
                raise RuntimeError("the review server did not start")
            time.sleep(0.2)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function(f"() => ({N_PLOTS_JS})() >= 6", timeout=120_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / args.review_name), full_page=True)
            if report is not None:
                page = browser.new_page(viewport={"width": 1300, "height": 1300})
                page.goto(report.as_uri())
                page.wait_for_function(f"() => ({N_PLOTS_JS})() >= 8", timeout=120_000)
                page.wait_for_timeout(500)
                page.screenshot(path=str(out / "report.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
        tmp.cleanup()
    print(f"wrote {out / args.review_name}" + ("" if report is None else f" and {out / 'report.png'}"))


if __name__ == "__main__":
    main()
