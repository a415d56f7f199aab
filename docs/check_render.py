"""Render pages of the built documentation with headless Chromium and check
what a reader would see.

``python docs/check_render.py BUILD OUT PAGE...`` renders each page of the HTML
build ``BUILD`` (built with ``SKTORCH_LINEAR_RENDER_CHECK=1``, which adds
``_render_check/render_check.js``) to ``OUT/<page>.png`` and fails when a page is
blank, an image in its content column did not load, or an element of the
content column reaches past its right edge (outside a box that scrolls), or a
table is wider than the box that scrolls it. ``make docs-check`` runs it on
every page but the search and index pages, after installing Debian's
``chromium`` package if it is missing.
"""

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--window-size=1280,2400",
    "--virtual-time-budget=5000",
]


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit(
        "Chromium is not installed: install Debian's chromium package "
        "(make docs-check does)."
    )


def run(*args, text=False):
    return subprocess.run(
        [chromium(), *FLAGS, *args],
        check=True,
        capture_output=True,
        text=text,
        timeout=180,
    )


def check(build, out, page):
    """Render ``page``; return the screenshot's path and the problems found."""
    url = (build / page).resolve().as_uri()
    png = out / (page.removesuffix(".html").replace("/", "_") + ".png")
    run(f"--screenshot={png}", url)
    dom = run("--dump-dom", url, text=True).stdout
    problems = []
    found = re.search(r'data-render-check="([^"]*)"', dom)
    if found is None:
        problems.append("the page's check script did not run (built without it?)")
    else:
        seen = json.loads(html.unescape(found.group(1)))
        if not seen["column"] or seen["text"] < 200:
            problems.append(f"blank: {seen['text']} characters in the content column")
        if seen["broken"]:
            problems.append(f"images that did not load: {seen['broken']}")
        if seen["overflow"]:
            problems.append(f"past the content column: {seen['overflow'][:5]}")
    pixels = np.asarray(Image.open(png).convert("L"), dtype=float)
    if pixels.std() < 5 or np.mean(pixels < 200) < 0.005:
        problems.append(f"the screenshot {png.name} is blank")
    return png, problems


def main(argv):
    build, out, pages = Path(argv[0]), Path(argv[1]), argv[2:]
    out.mkdir(parents=True, exist_ok=True)
    failed = False
    for page in pages:
        png, problems = check(build, out, page)
        print(f"{page}: {'; '.join(problems) or 'ok'} ({png})")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
