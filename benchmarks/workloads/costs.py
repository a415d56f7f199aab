"""The cost of each pass over the data of an exact fit, timed alone.

No public call runs one pass of an exact fit by itself, so this module (and no
other workload) calls the package's internal stages: the statistics pass
(``_moments.accumulate``), the R-factor pass (``_moments.factorize``) and a
refinement pass (``solvers._refinement.normal_residual``) on the package's
internal view of the data (``_data.Data``). Each is timed as a fit runs it,
against the bare ``X.T @ X``.
"""

import numpy as np
import torch

from sktorch_linear._data import Data
from sktorch_linear._moments import accumulate, factorize
from sktorch_linear.solvers._refinement import normal_residual

from ._context import FLOOR, OURS
from ._rows import headline, ratio, row
from .exact import floor_calls

PASSES = {
    "statistics": "pass 1: Gram statistics",
    "refine": "refinement pass, working precision",
    "refine2": "refinement pass, twice the working precision",
    "factor": "R-factor pass (TSQR), ill-conditioned data only",
}
# The label of each pass in its headline.
LABELS = {
    "statistics": "statistics",
    "refine": "working-precision refinement",
    "refine2": "extended-precision refinement",
    "factor": "R-factor statistics",
}


def _pass_calls(ctx, X, y):
    """A call per pass of :data:`PASSES` on the tall data, keyed by its name."""
    data = Data(X, y[:, None], None)
    device = torch.device(ctx.device)
    dtype = torch.float64
    moments = accumulate(data, device=device, dtype=dtype)
    model = ctx.tall_models()[OURS]
    coef, intercept = model.coef_[None], np.atleast_1d(model.intercept_)
    center = moments.mean_x

    def refine(extended):
        return lambda: normal_residual(
            data, coef, intercept, center, extended=extended, device=device
        )

    return {
        PASSES["statistics"]: lambda: accumulate(data, device=device, dtype=dtype),
        PASSES["refine"]: refine(False),
        PASSES["refine2"]: refine(True),
        PASSES["factor"]: lambda: factorize(data, moments, device=device, dtype=dtype),
    }


def exact_costs(ctx):
    """The passes of an exact fit on the tall matrix, each against the bare
    X.T @ X: the statistics (Gram matrix), one refinement pass in working
    precision and one in twice the working precision, and the R-factor pass
    (TSQR) that ill-conditioned data take."""
    X, y = ctx.tall()
    n, p = X.shape
    calls = _pass_calls(ctx, X, y)
    calls.update(floor_calls(ctx, X))
    times = ctx.measure(calls)
    rows = [
        row(
            "exact_costs", name, times[name], n=n, p=p, ctx=ctx, reference=name == FLOOR
        )
        for name in calls
    ]
    heads = [
        headline(
            "exact_costs",
            f"{label} / floor",
            ratio(times, PASSES[key], FLOOR),
            f"{PASSES[key]} takes {ratio(times, PASSES[key], FLOOR):.2f}x the bare "
            "cross-product",
        )
        for key, label in LABELS.items()
    ]
    return rows, heads
