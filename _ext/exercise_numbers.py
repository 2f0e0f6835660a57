"""Exercise numbers that restart in every chapter: "Exercise 2.1.3" is the third exercise of
Part 2, chapter 1, instead of a count running through the book.

sphinx-exercise numbers exercises as Sphinx numbers figures: one counter over the whole book
unless its chapters are numbered. After Sphinx has assigned those numbers, this rewrites each
chapter's exercise numbers as (part, chapter, n), read from the chapter's path
(chapters/part<P>/<CC>_<name>); sphinx-exercise shows and cross-references whatever is there.
"""

from __future__ import annotations

import re

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

CHAPTER = re.compile(r"^chapters/part(\d+)/(\d+)_")


def renumber_exercises(app: Sphinx, env: BuildEnvironment) -> list[str]:
    changed = []
    for docname, numbers in env.toc_fignumbers.items():
        match = CHAPTER.match(docname)
        exercises = numbers.get("exercise")
        if not match or not exercises:
            continue
        part, chapter = int(match.group(1)), int(match.group(2))
        in_order = sorted(exercises, key=exercises.get)  # the order Sphinx counted them in
        renumbered = {node_id: (part, chapter, n) for n, node_id in enumerate(in_order, start=1)}
        if renumbered != exercises:
            numbers["exercise"] = renumbered
            changed.append(docname)
    return changed


def setup(app: Sphinx) -> dict:
    # After Sphinx's own handler (priority 500) has assigned the figure numbers.
    app.connect("env-get-updated", renumber_exercises, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
