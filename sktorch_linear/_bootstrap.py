"""The xy-pair bootstrap of quantile-regression fits (R quantreg's
``boot.rq(bsmethod="xy")``): the fit again on rows drawn with replacement, the
covariance of the replicates' coefficients.

A replicate is the whole data with weights: the sample weights times each
row's count among ``n`` draws with replacement. Its minimiser is near the
fit's, so each replicate is solved from a small programme of the rows nearest
the fit (:func:`.solvers.robust_path.solve_near`): the fit's residuals are
computed once for every replicate, and a replicate reads the rows about twice
(its merged rows and the check of their sides), where a fit from scratch reads
them every interior-point iteration.
"""

import numpy as np
from sklearn.utils import check_random_state

from ._data import Data
from ._device import float64_device
from .solvers.robust_path import fit_residuals, loss_of, solve_near, target_scaling


def replicates(data, fit, options):
    """Per quantile of ``fit`` (``quantiles``, ``coef``, ``intercept``,
    ``fit_intercept``, ``moments``, ``standardize``), the ``(n_boot, k)``
    coefficients (``[coef, intercept]``) of ``options["n_boot"]`` xy-pair
    replicates of ``data`` (one :class:`~._data.Data`) drawn from
    ``options["random_state"]``, each solved exactly."""
    rng = check_random_state(options["random_state"])
    n = data.shape[0]
    base = np.ones(n) if data.sample_weight is None else data.sample_weight
    draws = [rng.multinomial(n, np.full(n, 1.0 / n)) for _ in range(options["n_boot"])]
    device = float64_device(options["device"])
    out = []
    for t, q in enumerate(fit["quantiles"]):
        scaling = target_scaling(
            fit["moments"], t, fit["fit_intercept"], fit["standardize"]
        )
        start = (fit["coef"][t], float(fit["intercept"][t]))
        residuals = fit_residuals(data, [start])
        rows = []
        for counts in draws:
            replicate = Data(data.X, data.Y[:, :1], base * counts)
            (solution,) = solve_near(
                replicate,
                scaling,
                loss_of("quantile", q),
                np.zeros(1),
                np.zeros(1),
                [start],
                residuals=residuals,
                fit_intercept=fit["fit_intercept"],
                max_iter=options["max_iter"],
                device=device,
            )
            rows.append(np.append(solution.coef, solution.intercept))
        out.append(np.array(rows))
    return out
