"""Which solver fits what: the one table that ``fit``, ``partial_fit`` and
:func:`~sktorch_linear.solvers.solve` read.

:func:`route` resolves ``solver="auto"``, refuses the combinations of loss,
penalty, streaming, Dask input and warm start that no solver serves (with what
to do instead), and names the family that solves the rest, the
``solver_path_`` values it reports, whether Dask parts are held in the
workers' memory and whether ``X`` is scanned for non-finite values before
solving. Adding a solver means a row here and a module of its own.
"""

from dataclasses import dataclass
from numbers import Integral

GRADIENT = ("lbfgs", "adam", "sgd")
# The losses that solver="exact" fits (squared error alone in partial_fit).
EXACT_LOSSES = ("squared_error", "huber", "quantile", "absolute_error")
# The family of each robust loss under solver="exact".
ROBUST = {
    "huber": "newton",
    "quantile": "interior_point",
    "absolute_error": "interior_point",
}
# The solver_path_ values each exact family reports (a gradient family
# reports the solver's name).
EXACT_PATHS = {
    "least_squares": ("cholesky", "qr"),
    "coordinate_descent": ("coordinate_descent",),
    "newton": ("newton",),
    "interior_point": ("interior_point",),
}


@dataclass(frozen=True)
class Route:
    """How one call of ``fit`` or ``partial_fit`` is solved.

    Attributes
    ----------
    solver : str
        The solver, ``"auto"`` resolved (``solver_`` after the fit).
    family : str
        The module of :mod:`sktorch_linear.solvers` that solves it.
    paths : tuple of str
        The ``solver_path_`` values the family reports.
    continues : bool
        Whether the call continues the estimator's fit (``partial_fit``, or a
        gradient fit under ``warm_start``) rather than starting afresh.
    persist : bool
        Whether Dask parts are held in the workers' memory (many passes).
    check_finite : bool
        Whether ``X`` is scanned for non-finite values before solving (the
        exact solvers find them in their statistics, one pass fewer).
    """

    solver: str
    family: str
    paths: tuple
    continues: bool
    persist: bool
    check_finite: bool


def route(params, *, streaming=False, dask=False, fitted=None):
    """The :class:`Route` of a call with the estimator's ``params``
    (``get_params()``), streamed (``partial_fit``) or not, on Dask input or
    not, on an estimator fitted by the solver ``fitted`` (its ``solver_``; None
    when unfitted).

    Raises
    ------
    ValueError
        For a combination that no solver serves, saying what to use instead.
    """
    if streaming and fitted is not None:
        solver = fitted
        if solver == "exact" and params["loss"] != "squared_error":
            # The interior-point method and Newton's need all the data at
            # every iteration: the stream goes on with Adam from their solution.
            solver = "adam"
    else:
        solver = _resolve(params, streaming)
    if dask:
        _check_dask(params, solver, streaming)
    family = _family(params["loss"], has_l1(params), solver, dask)
    # A gradient fit continues a gradient fit under warm_start; a stream
    # always continues.
    warm = params["warm_start"] and solver in GRADIENT and fitted in GRADIENT
    return Route(
        solver=solver,
        family=family,
        paths=EXACT_PATHS.get(family, (solver,)),
        continues=fitted is not None and (streaming or bool(warm)),
        persist=dask and (params["loss"] != "squared_error" or solver != "exact"),
        check_finite=solver != "exact",
    )


def has_l1(params):
    return params["alpha"] > 0 and params["l1_ratio"] > 0


def check_streams(solver):
    """Raise AttributeError (``partial_fit`` is not available) for a solver
    that cannot stream."""
    if solver == "lbfgs":
        raise AttributeError(
            "partial_fit is not available with solver='lbfgs', which minimises "
            "over the data of one call and would forget earlier chunks. Use "
            "solver='adam' or 'sgd' to stream (or 'exact' for squared error), or "
            "fit() on all the data."
        )


def family(objective, solver, dask):
    """The family of a resolved ``solver`` for an :class:`Objective`."""
    return _family(objective.loss, objective.has_l1, solver, dask)


def _family(loss, l1, solver, dask):
    if solver != "exact":
        return "dask_gradient" if dask else "gradient"
    if loss in ROBUST:
        return ROBUST[loss]
    return "coordinate_descent" if l1 else "least_squares"


def _resolve(params, streaming):
    loss, solver = params["loss"], params["solver"]
    exact_losses = ("squared_error",) if streaming else EXACT_LOSSES
    if solver == "auto":
        if loss in exact_losses:
            return "exact"
        smooth = loss == "huber" and not has_l1(params)
        return "lbfgs" if smooth and not streaming else "adam"
    if solver == "exact" and loss not in exact_losses:
        if streaming:
            raise ValueError(
                f"solver='exact' streams loss='squared_error' only: the "
                f"interior-point method for loss={loss!r} reads all the "
                "data at every iteration. Use fit() on all the data, or "
                "solver='adam' or 'sgd' to stream."
            )
        raise ValueError(
            f"solver='exact' does not solve loss={loss!r}. Use "
            "solver='auto', 'lbfgs', 'adam' or 'sgd'."
        )
    if solver == "lbfgs":
        _check_lbfgs(params)
    return solver


def _check_lbfgs(params):
    if params["loss"] not in ("squared_error", "huber") or has_l1(params):
        raise ValueError(
            "solver='lbfgs' needs a smooth objective (squared_error or huber "
            f"loss without an L1 penalty), but loss={params['loss']!r}, "
            f"l1_ratio={params['l1_ratio']}. Use solver='adam' or 'sgd' (or "
            "'exact' for squared_error)."
        )
    if isinstance(params["batch_size"], Integral):
        raise ValueError(
            f"solver='lbfgs' uses the full batch, but batch_size="
            f"{params['batch_size']} was given. Use batch_size=None (or 'auto'), "
            "or solver='adam'/'sgd' for mini-batches."
        )


def _check_dask(params, solver, streaming):
    """Dask input is fitted by the exact solvers, whose passes merge across
    the workers, or for least squares by Adam or SGD moving from part to
    part (each epoch measured against the minimum of the statistics)."""
    if solver == "exact":
        return
    what = None
    if solver not in ("adam", "sgd") or params["loss"] != "squared_error":
        what = f"solver={solver!r} with loss={params['loss']!r}"
    elif streaming:
        what = "partial_fit with a gradient solver (fit all the parts at once)"
    elif params["early_stopping"] or params["checkpoint"] is not None:
        what = "early_stopping or checkpoint"
    if what is not None:
        raise ValueError(
            f"Dask input is fitted by the exact solvers (solver='exact' or "
            f"'auto'), or by solver='adam' or 'sgd' for least squares; {what} "
            "needs the rows in one process. Use solver='exact', or compute "
            "the data into memory first (X.compute())."
        )
