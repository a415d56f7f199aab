"""TorchLinearRegressor: the scikit-learn estimator.

A facade: it validates parameters and data, builds a :class:`Config`, hands the
data to one solver family (:mod:`.solvers`) and sets its fitted attributes from
the :class:`SolverResult`. It does no numerical work of its own.
"""

import os
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import scipy.sparse
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from . import solvers
from ._config import Config
from ._dask import check_features, dask_data, is_dask
from ._dask import predict as dask_predict
from ._data import Data, matmul, validated_tensor
from ._device import accumulation_dtype, resolve_device, usable_device
from ._export import to_torch as export_torch
from ._inference import COV_TYPES, aliased_columns, singular_values
from ._inference import chunks as training_chunks
from ._inference import summary as inference_summary
from ._version import InconsistentVersionWarning, __version__
from ._warnings import warn

_FLOAT_DTYPES = [np.float64, np.float32]


def _on_host(values):
    """``y`` or the sample weights (a vector each) as a host array when given
    as a tensor; other inputs as they are."""
    return values.detach().cpu() if isinstance(values, torch.Tensor) else values


def _check_summary_arguments(alpha, cov_type, data):
    if not (isinstance(alpha, Real) and 0 < alpha < 1):
        raise ValueError(f"alpha must be a float in (0, 1), got {alpha!r}.")
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}, got {cov_type!r}.")
    if cov_type != "nonrobust" and data is None:
        raise ValueError(
            f"cov_type={cov_type!r} reads the training data once more: pass "
            "data=(X, y) or (X, y, sample_weight), or after partial_fit the "
            "chunks again as an iterable of such tuples."
        )


def _can_stream(estimator):
    if estimator.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is not available with solver='lbfgs', which minimises "
            "over the data of one call and would forget earlier chunks. Use "
            "solver='adam' or 'sgd' to stream (or 'exact' for squared error), or "
            "fit() on all the data."
        )
    return True


_GRADIENT_SOLVERS = ("lbfgs", "adam", "sgd")
# The losses that solver="exact" fits (squared error alone in partial_fit).
_EXACT_LOSSES = ("squared_error", "huber", "quantile", "absolute_error")


class TorchLinearRegressor(RegressorMixin, BaseEstimator):
    """Linear regression on PyTorch, as a scikit-learn regressor.

    Fits ``y = X @ coef_.T + intercept_`` by minimising, over the coefficients
    ``W`` (shape ``(n_targets, n_features)``) and the intercept ``b``::

        1 / sum(s) * sum_i s_i * sum_k L(y_ik - x_i @ W[k] - b_k)
            + alpha * l1_ratio * ||W * sigma||_1
            + alpha * (1 - l1_ratio) / 2 * ||W * sigma||^2

    where ``s`` are the sample weights (ones by default), ``L`` is the loss:

    - ``"squared_error"``: ``L(r) = r^2 / 2``;
    - ``"huber"``: ``scale + r^2 / scale`` for ``|r| <= epsilon * scale``,
      else ``scale * (1 - epsilon^2) + 2 * epsilon * |r|``, minimised over the
      scale of the residuals too (one ``scale > 0`` per target; ``scale_``):
      the objective of :class:`~sklearn.linear_model.HuberRegressor` (Owen's
      concomitant scale), divided by ``sum(s)``;
    - ``"absolute_error"``: ``|r|``;
    - ``"quantile"``: ``quantile * r`` for ``r >= 0``, else ``(quantile - 1) * r``;

    and ``sigma`` are the weighted standard deviations of the columns of ``X``
    when ``standardize=True`` (the penalty applies to the coefficients of the
    standardized data, as in glmnet), ones otherwise. With
    ``standardize=False`` and squared error this is scikit-learn's
    :class:`~sklearn.linear_model.ElasticNet` (``alpha`` and ``l1_ratio`` alike),
    and for ``l1_ratio=0`` :class:`~sklearn.linear_model.Ridge` with
    ``alpha_ridge = alpha * sum(s)``. With ``standardize=False`` and
    ``l1_ratio=0``, the Huber loss is ``HuberRegressor(epsilon, alpha_huber)``
    with ``alpha_huber = alpha * sum(s) / 2``; with ``l1_ratio=1`` the quantile
    loss is ``QuantileRegressor(quantile, alpha)``.

    The ``exact`` solver (squared error) accumulates weighted, centred
    sufficient statistics of ``X`` and ``y`` in float64 on the chosen device,
    solves the standardized normal equations by Cholesky, or, when they are ill
    conditioned or singular, the least-squares problem of an R factor of the
    data (minimum norm for rank-deficient data), and refines the solution
    against the data; with ``l1_ratio > 0`` it runs coordinate descent on the
    Gram matrix. The gradient
    solvers (``lbfgs``, ``adam``, ``sgd``) train a :class:`torch.nn.Linear`
    through a skorch net on the standardized data, applying the L1 penalty by
    proximal steps so that it gives exact zeros. Either way the coefficients are
    reported in the original units of ``X`` and ``y``, and predictions are
    computed from them.

    Parameters
    ----------
    loss : {"squared_error", "huber", "absolute_error", "quantile"}, \
            default="squared_error"
        The loss ``L`` of the objective above.

    epsilon : float, default=1.35
        Threshold of the Huber loss in units of the scale of the residuals
        (estimated with the coefficients, as by
        :class:`~sklearn.linear_model.HuberRegressor`), in ``(1, inf)``:
        residuals larger than ``epsilon * scale_`` count linearly
        (``outliers_``). Free of the units of ``y``; 1.35 gives 95% of the
        efficiency of least squares at normal errors. Only used by
        ``loss="huber"``.

    quantile : float or array-like of float, default=0.5
        The quantile the ``"quantile"`` loss estimates, in ``(0, 1)``. A list
        of quantiles fits one model per quantile in one call (sharing the passes
        over the data): ``coef_`` then has one row and ``intercept_`` one entry
        per quantile, and ``predict`` returns one column per quantile; ``y``
        must be one target.

    fit_intercept : bool, default=True
        Whether to fit an intercept. If False, the data are not centred.

    standardize : bool, default=True
        Whether to divide the columns of ``X`` by their (weighted) standard
        deviation before solving (a built-in
        :class:`~sklearn.preprocessing.StandardScaler`, fitted on the training
        data). It conditions the problem for every solver and defines the scale
        on which ``alpha`` penalises. Constant columns are left unscaled.

    alpha : float, default=0.0
        Strength of the penalty, in ``[0, inf)``; see the objective above.

    l1_ratio : float, default=0.0
        Mix of the penalty, in ``[0, 1]``: 0 is ridge (L2), 1 is lasso (L1).

    solver : {"auto", "exact", "lbfgs", "adam", "sgd"}, default="auto"
        - ``"auto"``: ``"exact"`` for every loss in ``fit``; in
          ``partial_fit``, ``"exact"`` for squared error and ``"adam"`` for
          the others.
        - ``"exact"``: for squared error, closed form (or coordinate descent)
          from the sufficient statistics, one pass over the data; for the
          absolute and quantile losses, a primal-dual interior-point method
          (Mehrotra's predictor-corrector) whose every iteration forms one
          weighted Gram matrix of the standardized rows, a block at a time on
          the device, to a certified optimum (``optimality_gap_``; without an
          L2 penalty, the exact vertex solution of the linear programme); for
          Huber, Newton's method in the coefficients and the scale (a proximal
          Newton step with an L1 penalty), each step one weighted Gram matrix
          of the rows inside ``epsilon * scale``, to a certified optimum. In
          ``partial_fit``, squared error only.
        - ``"lbfgs"``: full-batch L-BFGS with a strong Wolfe line search, for
          smooth objectives (squared error or Huber, ``l1_ratio=0``). Not for
          ``partial_fit``, which it would make forget earlier chunks.
        - ``"adam"``: mini-batch Adam.
        - ``"sgd"``: mini-batch stochastic gradient descent.

        Without a penalty the gradient solvers train on whitened data
        (uncorrelated columns; coefficients mapped back). For the Huber,
        absolute and quantile losses their optimality check (see
        ``optimality_gap_``) finds a minimiser (by Newton steps, or a linear
        programme over the rows nearest the fit) and the fit takes it when it
        is better: it ends at the minimum once training has come near it.

    lr : float, default=None
        Learning rate of the gradient solvers, in ``(0, inf)``. None means 1.0
        for ``"lbfgs"`` (the line search scales the step),
        ``1e-2 * sqrt(min(1, 2000 / n))`` for ``"adam"`` (``n`` the rows of the
        fit, or all rows seen in ``partial_fit``: Adam's noise floor is set by
        its step) and ``1e-2 * sqrt(min(batch, 200) / 200)`` for ``"sgd"``
        (smaller steps for noisier small batches). The data are standardized, so one
        learning rate suits every problem's units; stalls divide it by 10.
        Ignored by ``"exact"``.

    momentum : float, default=0.9
        Momentum of ``"sgd"`` (Nesterov's when positive), in ``[0, 1)``; 0 is
        plain stochastic gradient descent. Not used with an L1 penalty (SGD is
        then proximal SGD, which momentum would break) nor by other solvers.

    max_iter : int, default=200
        Maximum number of epochs (passes over the data) of the gradient solvers,
        or of sweeps of coordinate descent, in ``[1, inf)``. For ``"lbfgs"`` an
        epoch is one call of the optimizer, which runs up to 20 iterations.

    tol : float, default=1e-4
        Convergence tolerance of the gradient solvers, in ``[0, inf)``,
        relative to the problem. Training stalls when the training objective
        improves by less than ``tol`` times its value (the validation R² by
        less than ``tol`` under ``early_stopping``) within ``n_iter_no_change``
        epochs. The fit has then converged when its measured distance to the
        minimum (``optimality_gap_``) is at most ``tol``; while it still
        improves, training carries on; when it does not, Adam and SGD divide
        their learning rate by 10 and carry on, up to 6 times.

    n_iter_no_change : int, default=10
        Number of epochs without improvement before training stops (or Adam and
        SGD decay their learning rate; see ``tol``), in ``[1, inf)``.

    early_stopping : bool, default=False
        Whether to hold out ``validation_fraction`` of the training data, stop
        when the validation R² stops improving, and keep the parameters of the
        best epoch. Gradient solvers only; ignored by ``partial_fit``.

    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping, in
        ``(0, 1)``.

    batch_size : int, "auto" or None, default="auto"
        Rows per mini-batch for ``"adam"`` and ``"sgd"``, in ``[1, inf)``.
        ``"auto"`` means ``min(200, ceil(n_samples / 10))`` (at least 10
        steps per epoch) and None the full batch.
        ``"lbfgs"`` is always full batch. Rows are shuffled every epoch.

    warm_start : bool, default=False
        Whether ``fit`` continues from the coefficients, scaling and shuffling
        state of the previous fit, and its optimizer state when the solver is
        the same (gradient solvers). Parameters changed since (``lr``,
        ``alpha``, ``loss``, ...) apply from there on. ``n_iter_`` and
        ``loss_curve_`` accumulate.

    checkpoint : str or path-like, default=None
        A folder in which a gradient fit saves its complete state after every
        epoch, atomically. A fit started again with the same data, parameters
        and folder resumes from the last complete epoch. Each fit's file is
        named after a fingerprint of its data and parameters, so different fits
        (such as the candidates of a grid search) never share a file; a
        damaged or foreign file raises an error instead of being loaded. The
        fingerprint covers the ``callbacks`` (class and parameters), except
        those that only observe the training: skorch's logging callbacks and
        any with the attribute ``affects_training = False``. A callback whose
        parameters print differently in every run (a lambda) cannot be
        fingerprinted and is refused. The folder is checked to be writable
        before training starts.

    callbacks : list or tuple of skorch.callbacks.Callback, default=None
        Extra :mod:`skorch.callbacks` for the gradient solvers (learning-rate
        schedulers, gradient clipping, ...), as instances or ``(name,
        callback)`` tuples. They run before the convergence check.

    device : str or torch.device, default="auto"
        Where to compute: ``"auto"`` (the current CUDA device, else MPS, else
        the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or a
        :class:`torch.device`. A device this machine lacks is refused at ``fit``
        with an error listing the available ones.

    dtype : {"float32", "float64"}, default=None
        Compute dtype of the gradient solvers. None follows the validated input:
        float32 input trains in float32, anything else in float64. MPS has no
        float64, so float64 becomes float32 there (with a warning). The exact
        solver always accumulates in float64 (float32 on MPS, with a warning).

    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling of the mini-batches (through a local
        :class:`torch.Generator`; torch's global generator is never touched)
        and the validation split. An int makes fits on the CPU bit-for-bit
        reproducible.

    verbose : int, default=0
        0 prints nothing; 1 prints the solver path (exact) or shows a progress
        bar with the training loss and validation R² (gradient solvers).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients in the original units of ``X`` and ``y``; 1-D when ``y`` is
        1-D (and one quantile is fitted; a row per quantile otherwise).

    intercept_ : float or ndarray of shape (n_targets,)
        Intercept in the original units of ``y``; 0.0 if
        ``fit_intercept=False``.

    scaler_ : sklearn.preprocessing.StandardScaler
        The fitted scaler of ``X`` (weighted statistics of the training data).

    solver_ : str
        The solver used (``"auto"`` resolved).

    solver_path_ : str
        How the coefficients were obtained: for the exact solver
        ``"cholesky"`` (well-conditioned normal equations), ``"qr"`` (an
        ill-conditioned or rank-deficient problem, solved by an SVD of the R
        factor of the data), ``"coordinate_descent"`` (``l1_ratio > 0``) or
        ``"interior_point"`` (absolute and quantile losses); the solver's name
        otherwise.

    net_ : skorch.net.NeuralNet
        The skorch net of the linear model (a :class:`torch.nn.Linear` inside),
        holding the solution whatever the solver: the trained net of a gradient
        solver, with its optimizer state and history, or, after an exact fit, a
        net built on first access with the solution loaded. ``net_.predict(X)``
        takes ``X`` in its original units and returns ``predict(X)`` (2-D, in
        the net's dtype).

    moments_ : Moments or None
        The weighted sufficient statistics of all data seen (exact solver): a
        Gram matrix, or an R factor where the Gram matrix would be too ill
        conditioned to keep, which ``partial_fit`` merges new chunks into; None
        otherwise.

    rank_ : int
        Numerical rank of the standardized (centred, weighted) ``X``: the
        number of singular values of its R factor above the rounding level of
        that factor (``10 * eps * (n * s_max + ||mean / std||)`` for ``n``
        varying columns), the directions the coefficients are computed in.
        Exact solver only; computed on first access.

    singular_ : ndarray of shape (n_features,)
        Singular values of the standardized (centred, weighted) ``X``, in
        decreasing order (zeros for constant columns): from its R factor, or
        from the eigenvalues of its Gram matrix when that is well conditioned.
        Exact solver only; computed on first access.

    device_ : str
        The device used for fitting, e.g. ``"cpu"`` or ``"cuda:0"``.

    n_iter_ : int
        Number of epochs run (sweeps for coordinate descent, iterations for
        the interior-point method; for the exact solver otherwise, the number
        of passes over the data: statistics, R factor, refinement; summed over
        ``partial_fit`` calls).

    scale_ : float or ndarray of shape (n_targets,)
        The scale of the residuals estimated with the coefficients (Huber loss
        only), in the units of ``y``.

    outliers_ : ndarray of bool of shape (n_samples,) or (n_samples, n_targets)
        The training rows whose residual exceeds ``epsilon * scale_`` in
        absolute value (Huber loss only), as
        :class:`~sklearn.linear_model.HuberRegressor` marks them.

    optimality_gap_ : float or None
        How far a gradient fit's training objective is above its minimum,
        relative to the minimum, measured after the fit on all the training
        data. For squared error, ``g' H^+ g / 2`` over the objective's value at
        the minimum, from the gradient ``g`` and an R factor of the Hessian
        ``H`` of one pass (a proximal Newton step's decrease with an L1
        penalty): exact, the objective is quadratic. For the other losses, an
        upper bound certified by duality, ``(f - d) / d`` for a lower bound
        ``d`` of the minimum from a feasible point of the dual problem (for
        Huber found by Newton steps to the minimiser, a few passes; for the
        absolute and quantile losses by a linear programme over the rows with
        the residuals closest to zero): measured equal to the true gap to three
        digits. The minimiser that work finds replaces the trained coefficients
        when its objective is lower. When whitening (no penalty) left out
        directions of ``X`` that the data determine, too ill conditioned for
        training to resolve, the gap is the true distance from the exact
        least-squares minimum for squared error, else ``inf`` (not measured). A
        ``ConvergenceWarning`` is raised exactly when the gap exceeds ``tol``.
        The interior-point method of the exact solver certifies its gap in the
        same way, from its dual point (relative to ``1e-8`` times the objective
        of the zero model when the data can be fitted exactly). None when not
        measured: the exact solver of squared error, early stopping and
        ``partial_fit``.

    loss_curve_ : list of float
        Training objective per epoch, on the standardized problem (``X`` scaled
        by ``scaler_``, ``y`` centred and divided by its weighted standard
        deviation, which divides the objective by that deviation, squared for
        the squared and Huber losses), as skorch records it: for
        ``"adam"``/``"sgd"`` the mean of the epoch's mini-batch losses, for
        ``"lbfgs"`` the value at the start of the epoch's optimizer call. For
        the exact solver, the objective at the solution.

    best_loss_ : float
        The smallest value in ``loss_curve_``.

    validation_scores_ : list of float or None
        R² on the held-out data after each epoch, with ``early_stopping``;
        None otherwise.

    best_validation_score_ : float or None
        The best of ``validation_scores_`` (its parameters are the ones kept);
        None without ``early_stopping``.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.linear_model.LinearRegression : Ordinary least squares on the CPU.
    sklearn.linear_model.ElasticNet : Elastic-net least squares on the CPU.
    sklearn.linear_model.HuberRegressor : Huber regression on the CPU.
    sklearn.linear_model.QuantileRegressor : Quantile regression on the CPU.
    sklearn.linear_model.SGDRegressor : Stochastic gradient descent on the CPU.

    Notes
    -----
    On well-conditioned data the exact solver reads ``X`` once, in blocks, for
    its Gram matrix (a cost of about that of ``X.T @ X``), and ``fit`` reads it
    once more to refine the solution. When LAPACK's estimate of the reciprocal
    condition number of the standardized Gram matrix is below 1e-4, or the data
    are rank deficient, a second pass computes an R factor by Householder QR of
    blocks (TSQR), which keeps the condition number unsquared. ``fit`` then
    refines the coefficients against the data, with residuals in twice the
    working precision where working precision would leave an estimated error
    above 1e-12 (and always on data of at most 65 536 values), so that they are
    the least-squares solution of the data as given, rounded, whatever BLAS
    kernels or thread counts computed the statistics. Rank-deficient problems
    get the minimum-norm solution in the coordinates ``alpha`` penalises (the
    standardized ones, or those of ``X`` with ``standardize=False``) from
    dense, sparse and streamed data alike, and so does every ``alpha``.

    Statistics of chunks merge exactly (Gram matrices by the update of Chan,
    Golub and LeVeque, R factors by a QR of the stacked factors, as in TSQR),
    which is what makes ``partial_fit`` exact: any chunking of the data gives the
    coefficients of ``fit`` on all of it. Chunks of at most ``2**18`` values times
    columns also keep their cross-products in twice the working precision, and
    the solution is refined against those. Otherwise streamed statistics cannot
    be refined, and a :class:`scipy.linalg.LinAlgWarning` reports an estimated
    error when it exceeds 1e-6.

    The gradient solvers also divide ``y`` by its standard deviation (its
    root-mean-square without an intercept) while training, with the penalty
    rescaled so that the minimiser is unchanged. It makes the default learning
    rates and ``tol`` independent of the units of ``y``. In ``partial_fit``
    the scaling follows the data: it comes from the statistics of all chunks
    seen so far, and the model is re-expressed in it at every call, so that
    chunks of any size, down to one row, can be streamed.

    A fitted estimator pickles to NumPy and CPU state only: a model trained on
    CUDA or MPS loads and predicts on a machine that has neither.

    Examples
    --------
    >>> import numpy as np
    >>> from sktorch_linear import TorchLinearRegressor
    >>> X = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 3.0]])
    >>> y = X @ np.array([1.0, 2.0]) + 3.0
    >>> reg = TorchLinearRegressor(device="cpu").fit(X, y)
    >>> reg.coef_.round(6)
    array([1., 2.])
    >>> round(float(reg.intercept_), 6)
    3.0
    >>> reg.predict(np.array([[3.0, 5.0]])).round(6)
    array([16.])

    Several quantiles at once (a prediction band), and Huber regression with
    its scale estimated:

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> y = X @ np.array([1.0, 2.0]) + rng.normal(size=200)
    >>> band = TorchLinearRegressor(loss="quantile", quantile=[0.1, 0.9], device="cpu")
    >>> band.fit(X, y).predict(X[:3]).shape
    (3, 2)
    >>> huber = TorchLinearRegressor(loss="huber", device="cpu").fit(X, y)
    >>> huber.solver_path_, bool(huber.scale_ > 0), huber.outliers_.shape
    ('newton', True, (200,))
    """

    _parameter_constraints = {
        "loss": [StrOptions({"squared_error", "huber", "absolute_error", "quantile"})],
        "epsilon": [Interval(Real, 1, None, closed="neither")],
        "quantile": [Interval(Real, 0, 1, closed="neither"), "array-like"],
        "fit_intercept": ["boolean"],
        "standardize": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "solver": [StrOptions({"auto", "exact", "lbfgs", "adam", "sgd"})],
        "lr": [Interval(Real, 0, None, closed="neither"), None],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
        "warm_start": ["boolean"],
        "checkpoint": [str, os.PathLike, None],
        "callbacks": [list, tuple, None],
        "device": [str, torch.device],
        "dtype": [StrOptions({"float32", "float64"}), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        loss="squared_error",
        epsilon=1.35,
        quantile=0.5,
        fit_intercept=True,
        standardize=True,
        alpha=0.0,
        l1_ratio=0.0,
        solver="auto",
        lr=None,
        momentum=0.9,
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        batch_size="auto",
        warm_start=False,
        checkpoint=None,
        callbacks=None,
        device="auto",
        dtype=None,
        random_state=None,
        verbose=0,
    ):
        self.loss = loss
        self.epsilon = epsilon
        self.quantile = quantile
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.lr = lr
        self.momentum = momentum
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.batch_size = batch_size
        self.warm_start = warm_start
        self.checkpoint = checkpoint
        self.callbacks = callbacks
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the linear model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. float32 and float64 arrays are used as they are;
            other numeric input is converted to float64.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples, not all zero. A weight of ``k``
            is equivalent to repeating the sample ``k`` times.

        Returns
        -------
        self : TorchLinearRegressor
            The fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sktorch_linear import TorchLinearRegressor
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> reg = TorchLinearRegressor(device="cpu").fit(X, 2 * X[:, 0] + 1)
        >>> reg.coef_.round(12), float(reg.intercept_.round(12))
        (array([2.]), 1.0)
        """
        return self._fit(X, y, sample_weight, streaming=False)

    @available_if(_can_stream)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one more chunk of data.

        With the exact solver the chunk's sufficient statistics are merged into
        those of all earlier chunks and the model is solved again: any chunking
        of a data set gives the coefficients of ``fit`` on all of it. With Adam
        or SGD, one epoch runs over the chunk, with the scaling of all chunks
        seen so far and the optimizer state carried across calls; after a fit
        of the absolute or quantile loss by the interior-point method (which
        needs all the data at every iteration), Adam streams on from its
        solution. L-BFGS
        minimises over the data of one call and would forget earlier chunks:
        with ``solver="lbfgs"`` there is no ``partial_fit``. If the update
        fails (divergence, an interruption before the epoch ends, a chunk with
        another number of targets), the model is left as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Its target values (the same number of targets in every call).

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the chunk's samples.

        Returns
        -------
        self : TorchLinearRegressor
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sktorch_linear import TorchLinearRegressor
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> reg = TorchLinearRegressor(device="cpu")
        >>> for rows in (slice(0, 2), slice(2, 4)):  # two chunks, as they arrive
        ...     reg = reg.partial_fit(X[rows], 2 * X[rows, 0] + 1)
        >>> reg.coef_.round(12), float(reg.intercept_.round(12))
        (array([2.]), 1.0)
        """
        return self._fit(X, y, sample_weight, streaming=True)

    def predict(self, X):
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            float64 predictions; 1-D when the model was fitted on a 1-D ``y``.

        Examples
        --------
        With two targets, one column of predictions each:

        >>> import numpy as np
        >>> from sktorch_linear import TorchLinearRegressor
        >>> X = np.array([[0.0], [1.0], [2.0]])
        >>> Y = np.c_[X[:, 0] + 1, -X[:, 0]]
        >>> TorchLinearRegressor(device="cpu").fit(X, Y).predict([[10.0]]).round(12)
        array([[ 11., -10.]])
        """
        check_is_fitted(self)
        if is_dask(X):  # lazy, part by part
            check_features(self, X, reset=False)
            return dask_predict(X, self.coef_, self.intercept_)
        if isinstance(X, torch.Tensor):  # computed where it lies
            X = validated_tensor(X, check_finite=True)
            validate_data(self, X, skip_check_array=True, reset=False)
        else:
            X = validate_data(
                self, X, accept_sparse=("csr", "csc"), dtype=_FLOAT_DTYPES, reset=False
            )
        return matmul(X, self.coef_.T) + self.intercept_

    def summary(self, alpha=0.05, cov_type="nonrobust", data=None):
        """Inference statistics of a least-squares fit, as statsmodels' OLS (WLS
        with sample weights) reports them.

        For ``loss="squared_error"`` and ``alpha=0`` fitted by the exact solver
        (``fit`` or ``partial_fit``), from its statistics: the coefficients'
        standard errors, t statistics, p-values and confidence intervals, R²,
        adjusted R², the residual standard error and the F statistic. The
        covariance comes from the R factor of the data (the condition number is
        not squared). The robust kinds read the training data once more,
        on the device of the fit.

        Parameters
        ----------
        alpha : float, default=0.05
            Significance level of the confidence intervals, in ``(0, 1)``.
        cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3"}, default="nonrobust"
            Covariance of the coefficients: the classical one, or
            heteroskedasticity-robust (White's HC0; HC1 scaled by ``n / (n -
            k)``; HC2 and HC3 with the residuals divided by ``1 - h`` and ``(1 -
            h)^2``, ``h`` the leverages), as statsmodels' ``cov_type``.
        data : tuple or iterable of tuples, default=None
            The training data, ``(X, y)`` or ``(X, y, sample_weight)``, or after
            ``partial_fit`` the chunks again, as an iterable of such tuples:
            needed by the robust kinds only.

        Returns
        -------
        summary : RegressionSummary
            ``summary.table`` holds a row per parameter (a pandas DataFrame when
            pandas is installed, else a NumPy structured array); the other
            attributes hold the statistics of the model; ``print(summary)``
            shows them all.

        Examples
        --------
        Heteroskedasticity-robust standard errors take the data once more:

        >>> import numpy as np
        >>> from sktorch_linear import TorchLinearRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.uniform(1, 3, size=(200, 1))
        >>> y = 2 * X[:, 0] + X[:, 0] * rng.normal(size=200)  # noise grows with x
        >>> reg = TorchLinearRegressor(device="cpu").fit(X, y)
        >>> robust = reg.summary(cov_type="HC3", data=(X, y))
        >>> robust.cov_type, list(robust.table.columns[:3])
        ('HC3', ['coef', 'std_err', 't'])
        >>> low, high = robust.table.loc["x0", ["ci_lower", "ci_upper"]]
        >>> bool(low < 2 < high)
        True
        """
        check_is_fitted(self)
        _check_summary_arguments(alpha, cov_type, data)
        config = self._config
        objective = config.objective
        if objective.loss != "squared_error" or objective.alpha != 0:
            raise ValueError(
                "summary() describes least squares: loss='squared_error' with "
                f"alpha=0, but this fit has loss={objective.loss!r}, alpha="
                f"{objective.alpha}. Refit with those parameters."
            )
        if self.moments_ is None or self._result.coef.shape[0] != 1:
            raise ValueError(
                "summary() needs an exact least-squares fit of one target "
                "(solver='exact' or 'auto', y 1-D)."
            )
        aliased = aliased_columns(
            self.moments_, self._result.scaling, fit_intercept=self.fit_intercept
        )
        names = self._feature_names()
        if aliased:
            raise ValueError(
                "The design is rank deficient: columns "
                f"{[names[i] for i in aliased]} are linear combinations of "
                "others (or constant, with the intercept), so their coefficients "
                "are not identified. Drop or combine them for summary()."
            )
        chunks = None
        if cov_type != "nonrobust":
            chunks = (self._summary_chunk(*chunk) for chunk in training_chunks(data))
        return inference_summary(
            self.moments_,
            self._result.coef[0],
            float(self._result.intercept[0]),
            fit_intercept=self.fit_intercept,
            names=names,
            alpha=alpha,
            cov_type=cov_type,
            data=chunks,
            device=usable_device(config.device),
        )

    def to_torch(self, device=None, dtype="float64"):
        """The fitted model as a plain :class:`torch.nn.Module`.

        An :class:`torch.nn.Linear` holding ``coef_`` and ``intercept_`` (the
        built-in scaling folded into them), that takes ``X`` in its original
        units and returns ``predict(X)``: followed by ``nn.Flatten(0)`` when
        the model was fitted on a 1-D ``y`` (predictions of shape ``(n,)``).
        It needs nothing of this package to run: it exports with
        :func:`torch.export.export`, scripts with :func:`torch.jit.script`
        (which torch deprecates in its favour) and can be part of a larger
        model. Its parameters do not require
        gradients (call ``requires_grad_()`` to fine-tune).

        Parameters
        ----------
        device : str or torch.device, default=None
            Where the module lives: None means the device of the fit (the CPU
            when this machine lacks it), else as the ``device`` parameter.
        dtype : {"float64", "float32"}, default="float64"
            dtype of the parameters (float32 on MPS, which has no float64).

        Returns
        -------
        module : torch.nn.Module
            In evaluation mode.

        Examples
        --------
        >>> import numpy as np
        >>> import torch
        >>> from sktorch_linear import TorchLinearRegressor
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> reg = TorchLinearRegressor(device="cpu").fit(X, 2 * X[:, 0] + 1)
        >>> module = reg.to_torch()
        >>> module(torch.tensor([[10.0]], dtype=torch.float64)).round(decimals=12)
        tensor([21.], dtype=torch.float64)
        """
        check_is_fitted(self)
        if dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}.")
        if device is None:
            device = usable_device(self._config.device)
        else:
            device = resolve_device(device)
        if device.type == "mps" and dtype == "float64":
            raise ValueError("MPS has no float64: pass dtype='float32' for MPS.")
        return export_torch(
            self.coef_, self.intercept_, device=device, dtype=getattr(torch, dtype)
        )

    def _feature_names(self):
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _summary_chunk(self, X, y, sample_weight):
        """A chunk of training data for summary(), validated as fit does."""
        if is_dask(X):
            return dask_data(self, X, y, sample_weight, reset=False, quantiles=None)[0]
        X, Y, sample_weight, _ = self._validate(
            X, y, sample_weight, reset=False, check_finite=True, allow_all_zero=True
        )
        return Data(X, Y, sample_weight)

    @property
    def net_(self):
        """The skorch net of the linear model, holding the solution."""
        check_is_fitted(self)
        net = self._result.net
        if net is None or isinstance(net, dict):
            # On the device of the fit, or the CPU if this machine lacks it.
            config = replace(self._config, device=usable_device(self._config.device))
            if net is None:  # an exact fit: a net holding its solution
                dtype = accumulation_dtype(config.device, warn=False)
                net = solvers.solution_net(self._result, config, dtype)
            else:  # a gradient fit loaded from a file: its training state
                net = solvers.restored_net(self._result, config, net)
            self._result = replace(self._result, net=net)
        return self._result.net

    @property
    def singular_(self):
        """Singular values of the standardized, centred, weighted X."""
        return self._singular_values()[0]

    @property
    def rank_(self):
        """Numerical rank of the standardized, centred, weighted X."""
        return self._singular_values()[1]

    def _singular_values(self):
        if getattr(self, "moments_", None) is None:
            raise AttributeError(
                "singular_ and rank_ are available after a fit with the exact "
                "solver of squared error, which keeps the statistics they are "
                "computed from."
            )
        return singular_values(
            self.moments_, self._result.scaling, fit_intercept=self.fit_intercept
        )

    def __getstate__(self):
        # NumPy and plain Python only (pickle, skops): the trained net as its
        # training state, the device as its name. (A copy: object.__getstate__
        # returns the instance's own __dict__.)
        state = dict(super().__getstate__())
        result, config = state.get("_result"), state.get("_config")
        if result is not None and result.net is not None:
            gradient = result.solver in _GRADIENT_SOLVERS
            net = result.net
            if not isinstance(net, dict):
                net = solvers.net_state(net) if gradient else None
            state["_result"] = replace(result, net=net)
        if config is not None:
            state["_config"] = replace(config, device=str(config.device))
        state["_sktorch_linear_version"] = __version__
        return state

    def __setstate__(self, state):
        state = dict(state)
        config = state.get("_config")
        if config is not None and isinstance(config.device, str):
            state["_config"] = replace(config, device=torch.device(config.device))
        version = state.pop("_sktorch_linear_version", None)
        if version != __version__:
            warn(
                InconsistentVersionWarning(
                    estimator_name=type(self).__name__,
                    original_version=version,
                    current_version=__version__,
                )
            )
        super().__setstate__(state)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coef_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags

    # -- one dispatch for fit and partial_fit -----------------------------------

    def _fit(self, X, y, sample_weight, *, streaming):
        """Fit (``streaming=False``) or update (``partial_fit``) the model: one
        dispatch to one solver, whose result sets the fitted attributes."""
        fitted = self.__sklearn_is_fitted__()
        if streaming and fitted:
            solver = self.solver_
            if solver == "exact" and self._config.objective.loss != "squared_error":
                # The interior-point method needs all the data at every
                # iteration: the stream goes on with Adam from its solution.
                solver = "adam"
        else:
            solver = self._resolve_solver(streaming=streaming)
        previous = None
        if fitted and (streaming or self._warm_starts(solver)):
            previous = self._result
        else:
            self._clear_fitted_state()
        if is_dask(X):
            self._check_dask_solver(solver, streaming)
            data, y_ndim = dask_data(
                self,
                X,
                y,
                sample_weight,
                reset=previous is None,
                quantiles=self._quantiles(),
            )
            if self.loss != "squared_error" or solver != "exact":
                data = data.persist()  # many passes: held by the workers
        else:
            X, Y, sample_weight, y_ndim = self._validate(
                X,
                y,
                sample_weight,
                reset=previous is None,
                # The exact solvers find non-finite X in their statistics (they
                # become non-finite too) and only then scan X for the error
                # message: one pass over X fewer. The gradient solvers check
                # first.
                check_finite=solver != "exact",
                allow_all_zero=streaming and previous is not None,
            )
            data = Data(X, Y, sample_weight)
            zero_weight = sample_weight is not None and not sample_weight.any()
            if zero_weight and solver != "exact":
                return self  # a chunk of zero weight teaches a gradient solver nothing
        n_targets = data.shape[2]
        if previous is not None and n_targets != previous.coef.shape[0]:
            raise ValueError(
                f"y has {n_targets} target(s), but the model was fitted with "
                f"{previous.coef.shape[0]}. Pass the same targets in every "
                "partial_fit call (or in fit with warm_start=True)."
            )
        config = Config.from_params(
            self.get_params(), solver=solver, device=resolve_device(self.device)
        )
        problem = solvers.Problem(data, previous=previous, streaming=streaming)
        try:
            result = solvers.solve(problem, config)
            self._set_fitted(result, config, y_ndim if previous is None else None)
        except BaseException:
            # A failed update leaves the model it started from; a failed fit
            # leaves no model.
            if previous is None:
                self._clear_fitted_state()
            raise
        return self

    def _check_dask_solver(self, solver, streaming):
        """Dask input is fitted by the exact solvers, whose passes merge across
        the workers, or for least squares by Adam or SGD moving from part to
        part (each epoch measured against the minimum of the statistics)."""
        if solver == "exact":
            return
        what = None
        if solver not in ("adam", "sgd") or self.loss != "squared_error":
            what = f"solver={solver!r} with loss={self.loss!r}"
        elif streaming:
            what = "partial_fit with a gradient solver (fit all the parts at once)"
        elif self.early_stopping or self.checkpoint is not None:
            what = "early_stopping or checkpoint"
        if what is not None:
            raise ValueError(
                f"Dask input is fitted by the exact solvers (solver='exact' or "
                f"'auto'), or by solver='adam' or 'sgd' for least squares; {what} "
                "needs the rows in one process. Use solver='exact', or compute "
                "the data into memory first (X.compute())."
            )

    def _warm_starts(self, solver):
        """Whether ``fit`` continues from the previous fit: a gradient fit
        continues a gradient fit under ``warm_start``."""
        return (
            self.warm_start
            and solver in _GRADIENT_SOLVERS
            and self.solver_ in _GRADIENT_SOLVERS
        )

    def _resolve_solver(self, *, streaming=False):
        has_l1 = self.alpha > 0 and self.l1_ratio > 0
        exact_losses = ("squared_error",) if streaming else _EXACT_LOSSES
        if self.solver == "auto":
            if self.loss in exact_losses:
                return "exact"
            smooth = self.loss == "huber" and not has_l1
            return "lbfgs" if smooth and not streaming else "adam"
        if self.solver == "exact" and self.loss not in exact_losses:
            if streaming:
                raise ValueError(
                    f"solver='exact' streams loss='squared_error' only: the "
                    f"interior-point method for loss={self.loss!r} reads all the "
                    "data at every iteration. Use fit() on all the data, or "
                    "solver='adam' or 'sgd' to stream."
                )
            raise ValueError(
                f"solver='exact' does not solve loss={self.loss!r}. Use "
                "solver='auto', 'lbfgs', 'adam' or 'sgd'."
            )
        if self.solver == "lbfgs":
            if self.loss not in ("squared_error", "huber") or has_l1:
                raise ValueError(
                    "solver='lbfgs' needs a smooth objective (squared_error or huber "
                    f"loss without an L1 penalty), but loss={self.loss!r}, "
                    f"l1_ratio={self.l1_ratio}. Use solver='adam' or 'sgd' (or "
                    "'exact' for squared_error)."
                )
            if isinstance(self.batch_size, Integral):
                raise ValueError(
                    f"solver='lbfgs' uses the full batch, but batch_size="
                    f"{self.batch_size} was given. Use batch_size=None (or 'auto'), "
                    "or solver='adam'/'sgd' for mini-batches."
                )

        return self.solver

    def _validate(self, X, y, sample_weight, *, reset, check_finite, allow_all_zero):
        """Validated ``X`` (dense, or CSR), ``Y`` as float64 of shape (n_samples,
        n_targets), the sample weights, and the number of dimensions of ``y``;
        ``X`` is scanned for non-finite values when ``check_finite``."""
        if isinstance(X, torch.Tensor):  # validated where it lies
            X = validated_tensor(X, check_finite=check_finite)
            validate_data(self, X, skip_check_array=True, reset=reset)
            y = check_array(
                _on_host(y), ensure_2d=False, dtype=np.float64, input_name="y"
            )
            check_consistent_length(X, y)
        else:
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse=("csr", "csc"),
                dtype=_FLOAT_DTYPES,
                multi_output=True,
                y_numeric=True,
                reset=reset,
                ensure_all_finite=check_finite,
            )
        if scipy.sparse.issparse(X):
            X = X.tocsr()
        Y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
        quantiles = self._quantiles()
        if quantiles is not None:
            if Y.shape[1] != 1:
                raise ValueError(
                    f"Several quantiles ({len(quantiles)}) are fitted to one target, "
                    f"but y has {Y.shape[1]} columns. Fit one target at a time, or "
                    "pass a single quantile."
                )
            Y = np.repeat(Y, len(quantiles), axis=1)  # one column per quantile
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                _on_host(sample_weight),
                X,
                dtype=np.float64,
                ensure_non_negative=True,
                allow_all_zero_weights=allow_all_zero,
            )
        return X, Y, sample_weight, 2 if quantiles is not None else y.ndim

    def _quantiles(self):
        """The quantiles of a fit of several (an ndarray), or None."""
        if self.loss != "quantile" or np.ndim(self.quantile) == 0:
            return None
        quantiles = np.asarray(self.quantile, dtype=np.float64)
        valid = quantiles.ndim == 1 and quantiles.size > 0
        if not (valid and np.all((quantiles > 0) & (quantiles < 1))):
            raise ValueError(
                "The 'quantile' parameter must be a float in (0, 1) or a 1-D "
                f"sequence of such floats. Got {self.quantile!r} instead."
            )
        return quantiles

    # -- fitted state -----------------------------------------------------------

    def _set_fitted(self, result, config, y_ndim):
        """Set the fitted attributes from a solver's result; ``y_ndim`` is that
        of the first ``y`` fitted (None: keep it)."""
        coef, intercept = result.coef, result.intercept
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            raise FloatingPointError(
                "The fitted coefficients are not finite: the data overflow float64. "
                "Rescale X and y (e.g. divide by a power of ten) and fit again."
            )
        if y_ndim is not None:
            self._y_ndim = y_ndim
        if self._y_ndim == 1:
            coef, intercept = coef[0], intercept[0]
        if not self.fit_intercept:
            intercept = 0.0  # as LinearRegression and Ridge report it
        self._result, self._config = result, config
        self.coef_ = coef
        self.intercept_ = intercept
        self.scaler_ = self._make_scaler(result.scaling)
        self.solver_ = result.solver
        self.solver_path_ = result.path
        least_squares = (
            result.solver == "exact" and config.objective.loss == "squared_error"
        )
        self.moments_ = result.moments if least_squares else None
        self.device_ = str(config.device)
        self.n_iter_ = result.n_iter
        self.optimality_gap_ = result.diagnostics.get("optimality_gap")
        if result.scale is not None:
            self.scale_ = result.scale[0] if self._y_ndim == 1 else result.scale
        if result.outliers is not None:
            self.outliers_ = (
                result.outliers[:, 0] if self._y_ndim == 1 else result.outliers
            )
        self.loss_curve_ = result.loss_curve
        self.best_loss_ = min(result.loss_curve)
        scores = result.validation_scores
        self.validation_scores_ = scores
        self.best_validation_score_ = None if scores is None else max(scores)

    def _make_scaler(self, scaling):
        scaler = StandardScaler(with_mean=self.fit_intercept, with_std=self.standardize)
        scaler.mean_ = scaling.x_mean
        scaler.var_ = scaling.x_var
        scaler.scale_ = scaling.x_scale if self.standardize else None
        scaler.n_samples_seen_ = scaling.n_samples
        scaler.n_features_in_ = self.n_features_in_
        if hasattr(self, "feature_names_in_"):
            scaler.feature_names_in_ = self.feature_names_in_
        return scaler

    def _clear_fitted_state(self):
        private = ("_result", "_config", "_y_ndim")
        for name in [n for n in vars(self) if n.endswith("_") or n in private]:
            delattr(self, name)
