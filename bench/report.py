"""The report: a table for the terminal, and the measured section of BENCHMARKS.md.

Only the text between ``<!-- measured:start -->`` and ``<!-- measured:end -->`` is rewritten; the
hand-written text around it is kept. Each benchmark's record (with its raw samples) is stored in
that section as a JSON comment, so running one benchmark (``python -m bench decode``) replaces its
own section and keeps the others as they were measured, each with its own date and commit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .common import Result

__all__ = ["END", "START", "read_results", "render_markdown", "render_terminal", "write_markdown"]

START = "<!-- measured:start -->"
END = "<!-- measured:end -->"
_DASHES = "-\\u002d"
_RECORD = re.compile(r"<!-- result:(?P<name>[\w-]+) (?P<json>\{.*?\}) -->")


def _verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def _value(key: str, value: float) -> str:
    return f"{value:.0f}" if key.startswith("429") else f"{value:.2f}×"


def render_terminal(results: list[Result]) -> str:
    """A plain-text table of every figure and bar."""
    lines: list[str] = []
    width = max((len(f.name) for r in results for f in r.figures), default=20) + 2
    for result in results:
        head = f"{result.title}   [{result.elapsed:.0f} s{', quick' if result.quick else ''}]"
        lines += ["", head, "-" * len(head)]
        if result.error:
            lines.append(f"  FAILED: {result.error.splitlines()[-1] if result.error else ''}")
            continue
        lines += [f"  {figure.name:<{width}} {figure.describe()}" for figure in result.figures]
        for key, value in result.ratios.items():
            verdict = _verdict(result.met[key])
            lines.append(f"  {key:<{width}} {_value(key, value):>8}  bar {result.bars[key]:<7} {verdict}")
    lines += ["", "Summary", "-------"]
    for result in results:
        state = (
            "FAILED"
            if result.error
            else (
                "all bars met"
                if result.all_met
                else "NOT MET: " + ", ".join(k for k, met in result.met.items() if not met)
            )
        )
        lines.append(f"  {result.title:<52} {state}")
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _section(result: Result) -> list[str]:
    out = [f"### {result.title}", ""]
    out.append(
        f"`{result.command}` · {result.measured_at} · commit {result.commit} · {result.elapsed:.0f} s"
        + (" · **quick run**" if result.quick else "")
    )
    out.append("")
    if result.error:
        out += [
            "**FAILED** — the benchmark crashed; no figures:",
            "",
            "```text",
            result.error.rstrip(),
            "```",
            "",
        ]
        return out
    for key, value in result.setup.items():
        out.append(f"- {key}: {_escape(value)}")
    out += ["", "| Contender | Median (min–max) |", "|---|---|"]
    out += [f"| {_escape(f.name)} | {f.describe()} |" for f in result.figures]
    out += ["", "| Ratio | Measured | Bar | |", "|---|---|---|---|"]
    for key, value in result.ratios.items():
        verdict = "met" if result.met[key] else "**NOT MET**"
        out.append(f"| {_escape(key)} | {_value(key, value)} | {result.bars[key]} | {verdict} |")
    if result.notes:
        out += ["", "Notes:", ""]
        out += [f"- {_escape(note)}" for note in result.notes]
    if result.profile:
        out += [
            "",
            "Profile of the SDK side (a bar was not met):",
            "",
            "```text",
            result.profile.rstrip(),
            "```",
        ]
    out.append("")
    return out


def render_markdown(results: list[Result], *, machine: str, versions: str, commit: str, run: str) -> str:
    """The measured section, markers included."""
    out = [
        START,
        "<!-- Written by `python -m bench` (make bench); edits between these markers are overwritten. -->",
        "",
        "## Measured",
        "",
        f"- Machine: {machine}",
        f"- Versions: {versions}",
        f"- Commit: {commit}",
        f"- Last run: {run}",
        "",
        "| Benchmark | Ratio | Measured | Bar | | Measured at |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        dirty = "*" if " + " in result.commit else ""
        when = f"{result.measured_at}, {result.commit.split(' ')[0]}{dirty}" + (
            " (quick)" if result.quick else ""
        )
        if result.error:
            out.append(f"| {result.title} | — | — | — | **FAILED** | {when} |")
            continue
        for key, value in result.ratios.items():
            verdict = "met" if result.met[key] else "**NOT MET**"
            cells = [result.title, _escape(key), _value(key, value), result.bars[key], verdict, when]
            out.append("| " + " | ".join(cells) + " |")
    if any(" + " in r.commit for r in results):
        out += ["", "\\* measured with uncommitted changes to the SDK; each section names the files."]
    out.append("")
    for result in results:
        out += _section(result)
    for result in results:
        # "--" may not occur in an HTML comment; in JSON it only occurs in strings, where an escape is equal.
        record = json.dumps(result.to_json(), ensure_ascii=False, separators=(",", ":")).replace(
            "--", _DASHES
        )
        out.append(f"<!-- result:{result.name} {record} -->")
    out.append(END)
    return "\n".join(out)


def read_results(path: Path) -> dict[str, Result]:
    """The records stored in the measured section of ``path`` (none if it has no section yet)."""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    start, end = text.find(START), text.find(END)
    if start < 0 or end < 0:
        return {}
    found = {}
    for match in _RECORD.finditer(text[start:end]):
        found[match["name"]] = Result.from_json(json.loads(match["json"]))
    return found


def write_markdown(path: Path, section: str, *, preamble: str) -> None:
    """Replace the measured section of ``path`` (or append one, or create the file with ``preamble``)."""
    text = path.read_text(encoding="utf-8") if path.exists() else preamble
    start, end = text.find(START), text.find(END)
    if start >= 0 and end > start:
        text = text[:start] + section + text[end + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")
