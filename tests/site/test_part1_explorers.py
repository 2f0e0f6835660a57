"""Part 1's explorers on the built site, with no kernel: moving a control swaps the figure, the
Train button replays it, and the page fetches nothing from the internet.

Run after the build: `make book && make test-site`.
"""

from __future__ import annotations

import pytest
from test_site import HTML, SHOTS, browser, page  # noqa: F401  (pytest fixtures, shared with the site test)

EXPLORER_PAGES = {
    "chapters/part1/01_degradation": {"controls": ["range", "checkbox"], "action": True},
    "chapters/part1/03_gradient_highway": {"controls": ["range", "checkbox"], "action": False},
}


def frame(explorer) -> tuple[str, str]:
    image = explorer.locator("img")
    return image.get_attribute("data-frame"), image.get_attribute("src")


@pytest.mark.parametrize("name", list(EXPLORER_PAGES))
def test_explorer_responds_without_a_kernel(page, name: str) -> None:  # noqa: F811
    remote: list[str] = []
    page.on("request", lambda r: remote.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
    page.goto((HTML / f"{name}.html").as_uri(), wait_until="load")
    explorers = page.locator(".resnets-explorer")
    assert explorers.count() == 1, f"{name}: expected one explorer on the page"
    explorer = explorers.first
    explorer.scroll_into_view_if_needed()
    assert explorer.locator("img").evaluate("i => i.complete && i.naturalWidth > 0"), f"{name}: no figure"

    slider = explorer.locator("input[type=range]")
    start_key, start_src = frame(explorer)
    slider.focus()
    page.keyboard.press("ArrowLeft")
    moved_key, moved_src = frame(explorer)
    assert moved_key != start_key and moved_src != start_src, f"{name}: the depth slider did not change the figure"
    label = explorer.locator("input[type=range] + output").inner_text()
    assert label.strip().isdigit(), f"{name}: the slider's value label shows {label!r}"

    explorer.locator("input[type=checkbox]").check()
    toggled_key, toggled_src = frame(explorer)
    assert toggled_key.endswith(",1") and toggled_src not in (start_src, moved_src), f"{name}: the toggle did nothing"

    if EXPLORER_PAGES[name]["action"]:
        explorer.locator("button[data-action]").click()
        cover = explorer.locator("[data-cover]")
        assert cover.evaluate("c => getComputedStyle(c).display") == "block", f"{name}: Train did not start a replay"
        page.wait_for_function(
            "c => parseFloat(getComputedStyle(c).width) < 1", arg=cover.element_handle(), timeout=20000
        )

    explorer.screenshot(path=str(SHOTS / f"{name.replace('/', '__')}__explorer.png"))
    page.wait_for_timeout(500)  # anything the page fetches late (fonts, MathJax parts) has started by now
    assert not remote, f"{name}: the page fetched from the internet: {remote[:5]}"
