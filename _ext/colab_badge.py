"""Sphinx extension: an "Open in Colab" badge under the title of every notebook page.

The badge image is served from the site's own _static folder (the book must render with no
internet), and the link is built from the repository settings in _config.yml, so no notebook
carries a copy of it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from docutils import nodes
from sphinx.application import Sphinx

COLAB = "https://colab.research.google.com/github"


def colab_url(repository_url: str, branch: str, path_in_repo: str) -> str:
    """https://github.com/ORG/REPO + main + chapters/x.ipynb -> the Colab link for that file."""
    org_repo = urlparse(repository_url).path.strip("/").removesuffix(".git")
    return f"{COLAB}/{org_repo}/blob/{branch}/{path_in_repo}"


def add_badge(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    source = Path(app.env.doc2path(docname))
    if source.suffix != ".ipynb":
        return
    options = app.config.html_theme_options
    repository_url = options.get("repository_url")
    if not repository_url:
        return
    url = colab_url(repository_url, options.get("repository_branch", "main"), source.relative_to(app.srcdir).as_posix())
    image = "../" * docname.count("/") + "_static/colab-badge.svg"
    html = (
        f'<p class="colab-badge"><a href="{url}" target="_blank" rel="noopener">'
        f'<img src="{image}" alt="Open In Colab" width="117" height="20"></a></p>'
    )
    title = next(iter(doctree.findall(nodes.title)), None)
    if title is None:
        return
    section = title.parent
    section.insert(section.index(title) + 1, nodes.raw("", html, format="html"))


def setup(app: Sphinx) -> dict:
    app.connect("doctree-resolved", add_badge)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
