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

RECORDS = []
_CACHE = {}


def _cases():
    for family in FAMILY_NAMES:
        yield family, "dense"
    for input, families in OTHER_INPUTS.items():
        for family in families:
            yield family, input


@pytest.mark.parametrize("family, input", list(_cases()))
def test_every_cell_is_certified(family, input):
    """Check each served cell of the family (solvers × losses × penalties) on
    the input: no error or escaped warning (RuntimeWarning and other
    packages' warnings are errors), no silent miss, no needless warning from
    the exact solvers, a finite reported gap within [true, 10 × true] when
    either exceeds tol / 100 -- per target."""
    if input == "dask":
        pytest.importorskip("dask.array")
    broken = []
    for cell in matrix.cells([family], (input,)):
        for record in matrix.run_cell(*cell, cache=_CACHE):
            RECORDS.append(record)
            broken += [(cell, record.target, v) for v in matrix.violations(record)]
    assert not broken, broken


def test_gradient_solvers_rarely_warn_needlessly():
    """Check that at most 1% of the gradient fits of the matrix so far warn
    while their true gap is at most tol / 10 (a gradient fit stops on a
    measured gap; noise near tol may cross it)."""
    gradient = [r for r in RECORDS if r.solver != "exact" and not r.error]
    if not gradient:
        pytest.skip("run with the matrix (the cells above)")
    needless = [r for r in gradient if matrix.needless(r)]
    assert len(needless) <= 0.01 * len(gradient), [
        (r.family, r.solver, r.loss, r.penalty, r.true_gap) for r in needless
    ]
    out = os.environ.get("SKTORCH_LINEAR_MATRIX_OUT")
    if out:
        with open(out, "w") as file:
            for record in RECORDS:
                file.write(json.dumps(dataclasses.asdict(record)) + "\n")
