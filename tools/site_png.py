"""Redraw docs/site.png, the README's picture of the course, from the built site.

    make book && .venv/bin/python tools/site_png.py      # writes docs/site.png

It opens Part 3's degradation chapter in Debian's Chromium (headless, offline, as the site test
does), scrolls to the full-scale Fig. 6 (the figure of "Fig. 6 at full scale: all 45,000 training
images", with the cell that draws it above) and takes a 1280 x 900 screenshot of the page there,
with the table of contents beside it: what a reader sees on scrolling to the chapter's result.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = "chapters/part3/02_degradation_cifar"
HEADING = "fig-6-at-full-scale-all-45-000-training-images"  # the section's anchor on the site
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"]


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the built site (make book)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "site.png", help="where the picture goes")
    args = parser.parse_args(argv)
    page_file = args.html / f"{PAGE}.html"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not page_file.is_file():
        sys.exit(f"site_png: no built page at {page_file}; run `make book` first")
    if chromium is None:
        sys.exit("site_png: Debian's chromium is needed; `make browser` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_file.as_uri(), wait_until="load")
        figure = page.locator(f"section#{HEADING} .cell_output img").first
        if figure.count() == 0:
            sys.exit(f"site_png: no figure in the section #{HEADING} of {page_file}: update HEADING")
        page.wait_for_timeout(1500)  # MathJax and the images settle
        # the figure a little below the top, with the cell that drew it above it
        page.evaluate(
            "(img) => window.scrollTo(0, img.getBoundingClientRect().top + window.scrollY - 300)",
            figure.element_handle(),
        )
        page.wait_for_timeout(300)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out))
        browser.close()
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
