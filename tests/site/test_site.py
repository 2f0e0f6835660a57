"""The built site in a real browser: every page renders, math is typeset, images load, and no
page shows a Python error. Debian's Chromium, headless and offline; a screenshot per page
goes to _build/screenshots/ for a person to look at.

Run after the build: `make book && make test-site` (``make test`` does both).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"]


def pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is needed for the site test: `make browser` installs it")
    return path


@pytest.fixture(scope="module")
def browser():
    if not (HTML / "index.html").exists():
        pytest.fail(f"no built site in {HTML}: run `make book` first")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("name", pages())
def test_page_renders(page, name: str) -> None:
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url) if r.url.startswith("file:") else None)
    page.goto((HTML / f"{name}.html").as_uri(), wait_until="load")

    main = page.locator("main")
    assert main.count() == 1, f"{name}: no <main>"
    title = page.locator("main h1").first.inner_text()
    assert title.strip(), f"{name}: the page has no title"

    # Math: every $...$ became MathJax output, none is left as raw TeX.
    if page.locator("main .math").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000)
        page.evaluate("() => MathJax.startup.promise")
        assert page.locator("main mjx-container").count() >= page.locator("main .math").count(), (
            f"{name}: math not typeset"
        )

    # Images: every <img> loaded (natural size > 0); local files only, nothing fetched from the web.
    broken = page.evaluate(
        "() => Array.from(document.querySelectorAll('main img'))"
        ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert not broken, f"{name}: images failed to load: {broken}"
    assert not failed, f"{name}: local files failed to load: {failed}"

    # No Python error on the page.
    text = main.inner_text()
    for marker in ("Traceback (most recent call last)", "Error:", "Exception:"):
        lines = [line for line in text.splitlines() if marker in line and not re.match(r"^\s*(#|>>>)", line)]
        assert (
            not lines or marker == "Error:" and not page.locator("main .output.traceback, main .output.error").count()
        ), f"{name}: the page shows an error: {lines[:3]}"
    assert page.locator("main .output.traceback, main .output.error, main .cell_output .error").count() == 0, (
        f"{name}: a cell's error output is on the page"
    )
    assert page.locator("main .stderr").count() == 0 or name == "intro", f"{name}: stderr output on the page"

    # Code and printed lines fit the page: no code cell or output scrolls sideways.
    assert not overflowing_blocks(page), f"{name}: lines wider than the page: {overflowing_blocks(page)[:3]}"

    page.screenshot(path=str(SHOTS / f"{name.replace('/', '__')}.png"), full_page=True)


def overflowing_blocks(page) -> list[str]:
    """The longest line of every code block or printed output wider than its box."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('main pre'))
            .filter(p => p.scrollWidth > p.clientWidth + 1)
            .map(p => p.innerText.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), ''))"""
    )


def test_code_fits_the_narrowest_laptop_layout(browser) -> None:
    """From 1200 px the theme adds its right-hand contents column and the text column is 620 px
    wide until about 1280 px (narrower windows drop that column): custom.css shrinks the code font
    in that band, so no code cell scrolls sideways at any laptop width."""
    width = 1200
    page = browser.new_page(viewport={"width": width, "height": 900})
    wide = {}
    for name in pages():
        page.goto((HTML / f"{name}.html").as_uri(), wait_until="domcontentloaded")
        if blocks := overflowing_blocks(page):
            wide[name] = blocks[:2]
    page.close()
    assert not wide, f"at {width} px these lines scroll sideways: {wide}"


def test_notebook_pages_have_the_colab_badge_and_launch_button(browser) -> None:
    page = browser.new_page()
    for name in pages():
        if not (ROOT / f"{name}.ipynb").exists():
            continue
        page.goto((HTML / f"{name}.html").as_uri())
        link = page.locator("p.colab-badge a")
        assert link.count() == 1, f"{name}: no Colab badge"
        assert link.get_attribute("href").endswith(f"/blob/main/{name}.ipynb")
        assert page.locator("a[href*='colab.research.google.com']").count() >= 2, f"{name}: no Colab launch button"
        download = page.locator(f"a[href$='_sources/{name}.ipynb']")
        assert download.count() == 1, f"{name}: no .ipynb download"
        assert (HTML / "_sources" / f"{name}.ipynb").exists()
        assert page.locator(".theme-switch-button").count() >= 1, f"{name}: no dark-mode switch"
    page.close()


def test_search_and_bibliography_work(browser) -> None:
    page = browser.new_page()
    page.goto((HTML / "search.html").as_uri() + "?q=residual")
    page.wait_for_selector("#search-results li", timeout=20000)
    assert page.locator("#search-results li").count() > 0
    page.goto((HTML / "references.html").as_uri())
    bibliography = page.locator("main").inner_text()
    for author in ("He", "Veit", "Huang", "Srivastava", "Ronneberger", "Lin", "Li"):
        assert author in bibliography
    page.close()
