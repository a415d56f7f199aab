"""The certification matrix (:mod:`certify`): every solver × loss × penalty ×
input on families of data, each target's training objective against an
independent minimum (lstsq, HiGHS, cvxpy with CLARABEL).

``make test`` runs the fast slice (every solver, loss and penalty on the
``FAST`` families, dense, plus CSR, ``partial_fit`` and Dask cells on a few);
``SKTORCH_LINEAR_MATRIX=full`` (``.ci/run``, ``make certify``) runs every
family, and ``SKTORCH_LINEAR_MATRIX_OUT`` names a file for the records (from
which ``python -m certify`` writes the summary tables of the README and the
user guide).
"""

import dataclasses
import importlib.util
import json
import os

import pytest

pytest.importorskip("cvxpy")

from certify import matrix  # noqa: E402
from certify.families import FAMILIES, FAST  # noqa: E402

FULL = os.environ.get("SKTORCH_LINEAR_MATRIX") == "full"
FAMILY_NAMES = list(FAMILIES) if FULL else FAST
# Inputs other than dense arrays, on the families where they apply.
OTHER_INPUTS = {
    "csr": ["gaussian_200x5", "csr_one_hot", "weights_lognormal_3"],
    "partial_fit": ["gaussian_200x5", "weights_lognormal_3", "multi_output_scales"],
    "dask": ["gaussian_200x5"],
}
if FULL:
    OTHER_INPUTS["csr"] += ["csr_5pct", "duplicate_columns", "interpolating_20x19"]
    OTHER_INPUTS["partial_fit"] += ["diabetes", "large_200000x20", "y_scale_1e10"]
    OTHER_INPUTS["dask"] += ["weights_lognormal_3", "multi_output_scales"]

_RECORDS = {}  # (family, input): its records, each case run once per session
_CACHE = {}  # the independent minima


def _cases():
    for family in FAMILY_NAMES:
        yield family, "dense"
    for input, families in OTHER_INPUTS.items():
        for family in families:
            yield family, input


def _records(family, input):
    """The records of every served cell of ``family`` on ``input``."""
    if (family, input) not in _RECORDS:
        _RECORDS[family, input] = [
            record
            for cell in matrix.cells([family], (input,))
            for record in matrix.run_cell(*cell, cache=_CACHE)
        ]
    return _RECORDS[family, input]


@pytest.mark.parametrize("family, input", list(_cases()))
def test_every_cell_is_certified(family, input):
    """Check each served cell of the family (solvers × losses × penalties) on
    the input: no error or escaped warning (RuntimeWarning and other
    packages' warnings are errors), no silent miss, no needless warning from
    the exact solvers, a finite reported gap within [true, 10 × true] when
    either exceeds tol / 100 -- per target."""
    if input == "dask":
        pytest.importorskip("dask.array")
    broken = [
        ((record.family, record.solver, record.loss, record.penalty), record.target, v)
        for record in _records(family, input)
        for v in matrix.violations(record)
    ]
    assert not broken, broken


def test_gradient_solvers_rarely_warn_needlessly():
    """Check that at most 1% of the gradient fits of the matrix warn while
    their true gap is at most tol / 10 (a gradient fit stops on a measured
    gap; noise near tol may cross it). The cells run above are reused."""
    dask = importlib.util.find_spec("dask") is not None
    cases = [case for case in _cases() if dask or case[1] != "dask"]
    records = [r for case in cases for r in _records(*case)]
    gradient = [r for r in records if r.solver != "exact" and not r.error]
    needless = [r for r in gradient if matrix.needless(r)]
    assert len(gradient) > 100
    assert len(needless) <= 0.01 * len(gradient), [
        (r.family, r.solver, r.loss, r.penalty, r.true_gap) for r in needless
    ]
    out = os.environ.get("SKTORCH_LINEAR_MATRIX_OUT")
    if out:
        with open(out, "w") as file:
            for record in records:
                file.write(json.dumps(dataclasses.asdict(record)) + "\n")
