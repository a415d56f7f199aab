"""The summary tables of the certification matrix, from its records (one JSON
object per line, as ``tests/test_certification.py`` writes them with
``SKTORCH_LINEAR_MATRIX_OUT``), written into the README and the user guide
between their markers."""

import json
import re
from collections import defaultdict
from pathlib import Path

from .matrix import SOLVERS, Record, needless, violations

ROOT = Path(__file__).resolve().parents[2]
MARKERS = ("<!-- certification-table -->", "<!-- /certification-table -->")
RST_MARKERS = (".. certification-table", ".. /certification-table")


def load(path):
    with open(path) as file:
        return [Record(**json.loads(line)) for line in file if line.strip()]


_OFF = "reported gap off the true gap"


def _gap(value):
    return "0" if value == 0 else f"{value:.0e}"


def solver_rows(records):
    """Per solver: fits (targets), the worst true gap of a fit without a
    warning, silent misses, needless warnings, reported gaps off, errors."""
    rows = []
    for solver in SOLVERS:
        mine = [r for r in records if r.solver == solver]
        fine = [r for r in mine if not r.error]
        quiet = [r.true_gap for r in fine if not r.warned]
        rows.append(
            [
                solver,
                str(len(mine)),
                _gap(max(quiet, default=0.0)),
                str(sum("silent miss" in violations(r) for r in fine)),
                str(sum(needless(r) for r in fine)),
                str(sum(_OFF in violations(r) for r in fine)),
                str(len(mine) - len(fine)),
            ]
        )
    return rows


SOLVER_HEADER = [
    "Solver",
    "Fits (per target)",
    "Worst true gap without a warning",
    "Silent misses",
    "Needless warnings",
    "Reported gap off [true, 10 × true]",
    "Errors",
]


def family_rows(records):
    """Per family and solver: the worst true gap, and warned / fits."""
    cells = defaultdict(list)
    for record in records:
        cells[record.family, record.solver].append(record)
    families = list(dict.fromkeys(r.family for r in records))
    rows = []
    for family in families:
        row = [family]
        for solver in SOLVERS:
            mine = [r for r in cells[family, solver] if not r.error]
            if not mine:
                row.append("–")
                continue
            worst = max(r.true_gap for r in mine)
            warned = sum(r.warned for r in mine)
            row.append(f"{_gap(worst)} ({warned}/{len(mine)} warned)")
        rows.append(row)
    return rows


def _outside(records):
    """The cells that break a rule (the gradient solvers' needless warnings
    aside: a share is allowed), named."""
    cells = sorted(
        {
            (r.family, r.solver, r.loss, r.penalty)
            for r in records
            if violations(r) and not (r.solver != "exact" and needless(r))
        }
    )
    if not cells:
        return "Every cell keeps every rule."
    named = "; ".join(" × ".join(cell) for cell in cells)
    return f"Cells outside the rules ({len(cells)}): {named}."


def markdown(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def rst(header, rows):
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header] + rows:
        out.append("   * - " + row[0])
        out += [f"     - {cell}" for cell in row[1:]]
    return "\n".join(out)


def _replace(text, markers, body):
    start, end = markers
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"markers {markers} not found")
    return pattern.sub(lambda _: f"{start}\n\n{body}\n\n{end}", text)


def write(records, readme=ROOT / "README.md", guide=ROOT / "docs" / "user_guide.rst"):
    """Write the per-solver table into the README and both tables into the
    user guide."""
    families = sorted({r.family for r in records})
    summary = (
        f"{len(records)} fits (per target) on {len(families)} data families, "
        "every solver × loss × penalty, dense, CSR, `partial_fit` and Dask "
        "inputs (`make certify`):"
    )
    table = markdown(SOLVER_HEADER, solver_rows(records))
    outside = _outside(records)
    readme.write_text(
        _replace(readme.read_text(), MARKERS, f"{summary}\n\n{table}\n\n{outside}")
    )
    body = "\n\n".join(
        [
            summary.replace("`", "``"),
            rst(SOLVER_HEADER, solver_rows(records)),
            outside.replace("`", "``"),
            "Per family, the worst true gap (relative) of each solver, and how "
            "many of its fits warned:",
            rst(["Family", *SOLVERS], family_rows(records)),
        ]
    )
    guide.write_text(_replace(guide.read_text(), RST_MARKERS, body))
