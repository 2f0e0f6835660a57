"""Results files and what produced them: an experiment's result stored as JSON with its
provenance, read back, and that provenance set out for a reader.

    write_results(result, folder, command)   results/<experiment>-<profile>.json, with the command
    load_results(experiment, profile)        from a folder, ./results, or those shipped with the package
    MissingResults                           none stored where they were looked for (the message says how to make them)
    format_provenance(provenance)            command, commit, hardware, data, seed and resumes, a fact a line
    format_run_records(entries)              shipped runs: precision, CPU, resumes and training rate, a row each
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from .errors import ResnetsError
from .files import write_atomic
from .tables import Table, format_table

#: The results that travel with the package (``load_results`` falls back on them).
SHIPPED_RESULTS = Path(__file__).parent / "assets" / "results"


class MissingResults(ResnetsError, FileNotFoundError):
    """No stored results of an experiment where they were looked for; the message says how to make them."""


def results_path(experiment: str, profile: str, folder: str | Path) -> Path:
    """Where an experiment's result in ``profile`` is stored in ``folder``."""
    return Path(folder) / f"{experiment}-{profile}.json"


def write_results(result: dict[str, Any], folder: str | Path, command: str) -> Path:
    """Store ``result`` as JSON in ``folder``, recording the command that produced it."""
    path = results_path(result["experiment"], result["profile"], folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**result, "provenance": {**result["provenance"], "command": command}}
    return write_atomic(path, lambda f: f.write((json.dumps(payload, indent=1) + "\n").encode()))


def load_results(experiment: str, profile: str = "full", folder: str | Path | None = None) -> dict[str, Any]:
    """A stored result: from ``folder``, else ./results, else the results shipped with the package."""
    candidates = [Path(folder)] if folder else [Path("results"), SHIPPED_RESULTS]
    for candidate in candidates:
        path = results_path(experiment, profile, candidate)
        if path.is_file():
            return json.loads(path.read_text())
    where = " or ".join(str(results_path(experiment, profile, c)) for c in candidates)
    raise MissingResults(
        f"no stored {experiment} results for profile {profile!r} ({where}); make them with `python -m resnets "
        f"reproduce {experiment} --{profile}`"
    )


def _data_name(note: str | None) -> str | None:
    """What the data was, without the comment a run recorded after it ("JPEG q75 (lossy: ...)"):
    the comment is a claim of the version that wrote it; the name and the checksum are facts."""
    return None if note is None else note.split(" (")[0]


def _resume_line(resume: dict[str, Any]) -> str:
    """One resume of a run (``train.resumed_provenance``) in a line: where it began and on what."""
    commit = (resume.get("git_commit") or "unknown")[:12]
    machine = ", ".join(str(resume.get(fact)) for fact in ("hardware", "cpu", "precision") if resume.get(fact))
    return f"epoch {resume['epoch']} on {machine}, commit {commit}"


def format_provenance(provenance: dict[str, Any], width: int = 78) -> str:
    """What produced a result, one fact a line: command, commit, hardware, CPU, precision, data, seed,
    and each resume of the run (where it began, on what machine, precision and commit).

    Lines are wrapped at ``width``; the command with shell continuations, so it can be pasted.
    """
    import textwrap

    facts = [
        ("command", provenance.get("command")),
        ("git commit", provenance.get("git_commit")),
        ("hardware", provenance.get("hardware")),
        ("cpu", provenance.get("cpu")),
        ("precision", provenance.get("precision")),
        ("torch", provenance.get("torch_version")),
        ("data", _data_name(provenance.get("data_note"))),
        ("data SHA-256", provenance.get("data_checksum")),
        ("seed", provenance.get("seed")),
        *(("resumed", _resume_line(resume)) for resume in provenance.get("resumes", [])),
    ]
    indent = " " * 14
    lines = []
    for label, value in facts:
        text, first = "unknown" if value is None else str(value), f"{label + ':':14s}"
        if label == "command":
            wrapped = textwrap.wrap(text, width - len(indent) - 2, break_long_words=False, break_on_hyphens=False)
            lines.append(first + (" \\\n" + indent).join(wrapped))
        else:
            lines.append(
                textwrap.fill(text, width, initial_indent=first, subsequent_indent=indent, break_long_words=False)
            )
    return "\n".join(lines)


def format_run_records(entries: dict[str, dict[str, Any]]) -> Table:
    """How each shipped run was computed, from its record: the precision it trained in, the CPU
    (its first session's, or the first resume's where only resumes name it), how many times it was
    resumed and its median training rate. "not recorded" where the record predates the field."""
    rows = []
    for entry in entries.values():
        provenance = entry["provenance"]
        resumes = provenance.get("resumes", [])
        precisions = {provenance.get("precision"), *(r.get("precision") for r in resumes)} - {None}
        cpus = [provenance.get("cpu"), *(r.get("cpu") for r in resumes)]
        cpu = next((c for c in cpus if c), "not recorded")
        rate = statistics.median(m["images_per_second"] for m in entry["metrics"])
        rows.append((entry["arch"], ", ".join(sorted(precisions)) or "not recorded", cpu, len(resumes), f"{rate:,.0f}"))
    return format_table(["net", "precision", "CPU", "resumes", "images/s"], rows)


__all__ = [
    "SHIPPED_RESULTS",
    "MissingResults",
    "format_provenance",
    "format_run_records",
    "load_results",
    "results_path",
    "write_results",
]
