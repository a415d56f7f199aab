"""TorchLinearRegressor: the scikit-learn estimator."""

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._device import accumulation_dtype, resolve_device, resolve_dtype
from ._exact import compute_moments, solve_ridge
from ._gradient import DEFAULT_LR, build_net, standardized_tensors

_FLOAT_DTYPES = [np.float64, np.float32]
# Rows per mini-batch for batch_size="auto" (as scikit-learn's MLPRegressor).
_AUTO_BATCH_SIZE = 200


class TorchLinearRegressor(RegressorMixin, BaseEstimator):
    """Linear least squares on PyTorch, as a scikit-learn regressor.

    Fits ``y = X @ coef_.T + intercept_`` by minimising, over the coefficients
    ``W`` (shape ``(n_targets, n_features)``) and the intercept ``b``::

        1 / (2 * sum(s)) * sum_i s_i * ||y_i - x_i @ W.T - b||^2
            + alpha / 2 * ||W * sigma||^2

    where ``s`` are the sample weights (ones by default) and ``sigma`` are the
    weighted standard deviations of the columns of ``X`` when ``standardize=True``
    (the penalty applies to the coefficients of the standardised data, as in
    glmnet), ones otherwise. With ``standardize=False`` this is scikit-learn's
    :class:`~sklearn.linear_model.Ridge` with ``alpha_ridge = alpha * sum(s)``.

    The ``exact`` solver accumulates weighted, centred sufficient statistics of
    ``X`` and ``y`` in float64 on the chosen device and solves the standardised
    normal equations (Cholesky, or a minimum-norm eigen-decomposition solve when
    the system is ill conditioned or singular). The gradient solvers (``lbfgs``,
    ``adam``, ``sgd``) train a :class:`torch.nn.Linear` through a skorch net on
    the standardised data. Either way the coefficients are reported in the
    original units of ``X`` and ``y``, and predictions are computed from them.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an intercept. If False, the data are not centred.

    standardize : bool, default=True
        Whether to divide the columns of ``X`` by their (weighted) standard
        deviation before solving (a built-in
        :class:`~sklearn.preprocessing.StandardScaler`, fitted on the training
        data). It conditions the problem for every solver and defines the scale
        on which ``alpha`` penalises. Constant columns are left unscaled.

    alpha : float, default=0.0
        Strength of the L2 penalty, in ``[0, inf)``; see the objective above.

    solver : {"auto", "exact", "lbfgs", "adam", "sgd"}, default="auto"
        - ``"auto"``: ``"exact"``, the right choice for squared loss.
        - ``"exact"``: closed form from the sufficient statistics; one pass over
          the data.
        - ``"lbfgs"``: full-batch L-BFGS with a strong Wolfe line search.
        - ``"adam"``: mini-batch Adam.
        - ``"sgd"``: mini-batch stochastic gradient descent.

    lr : float, default=None
        Learning rate of the gradient solvers, in ``(0, inf)``. None means 1.0
        for ``"lbfgs"`` (the line search scales the step), 1e-3 for ``"adam"``
        and 1e-2 for ``"sgd"``. Ignored by ``"exact"``.

    momentum : float, default=0.9
        Momentum of ``"sgd"`` (Nesterov's when positive), in ``[0, 1)``; 0 is
        plain stochastic gradient descent. Ignored by the other solvers.

    max_iter : int, default=200
        Maximum number of epochs (passes over the data) of the gradient solvers,
        in ``[1, inf)``. For ``"lbfgs"`` an epoch is one call of the optimizer,
        which runs up to 20 iterations.

    tol : float, default=1e-4
        Convergence tolerance of the gradient solvers, in ``[0, inf)``: training
        stops when the training objective (on the standardised problem) has not
        improved by at least ``tol`` for ``n_iter_no_change`` consecutive epochs.

    n_iter_no_change : int, default=10
        Number of epochs without improvement before training stops, in
        ``[1, inf)``.

    batch_size : int, "auto" or None, default="auto"
        Rows per mini-batch for ``"adam"`` and ``"sgd"``, in ``[1, inf)``.
        ``"auto"`` means ``min(200, n_samples)`` and None the full batch.
        ``"lbfgs"`` is always full batch. Rows are shuffled every epoch.

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
        Seeds the shuffling of the mini-batches through a local
        :class:`torch.Generator`; torch's global generator is never touched.
        An int makes fits on the CPU bit-for-bit reproducible.

    verbose : int, default=0
        0 prints nothing; 1 prints the solver path (exact) or a table of the
        training loss per epoch (gradient solvers).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients in the original units of ``X`` and ``y``; 1-D when ``y`` is
        1-D.

    intercept_ : float or ndarray of shape (n_targets,)
        Intercept in the original units of ``y``; 0.0 if
        ``fit_intercept=False``.

    scaler_ : sklearn.preprocessing.StandardScaler
        The fitted scaler of ``X`` (weighted statistics of the training data).

    solver_ : str
        The solver used (``"auto"`` resolved).

    solver_path_ : str
        How the coefficients were obtained: ``"cholesky"`` or ``"eigh"`` for the
        exact solver, the solver's name otherwise.

    net_ : LinearNet or None
        The trained skorch net (gradient solvers); None for the exact solver.

    device_ : str
        The device used for fitting, e.g. ``"cpu"`` or ``"cuda:0"``.

    n_iter_ : int
        Number of epochs run (1 for the exact solver: one pass over the data).

    loss_curve_ : list of float
        Training objective per epoch, on the standardised problem (``X`` scaled
        by ``scaler_``, ``y`` centred and divided by its weighted standard
        deviation), as skorch records it: for ``"adam"``/``"sgd"`` the mean of
        the epoch's mini-batch losses, for ``"lbfgs"`` the value at the start of
        the epoch's optimizer call. For the exact solver, the objective at the
        solution.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.linear_model.LinearRegression : Ordinary least squares on the CPU.
    sklearn.linear_model.Ridge : L2-penalised least squares on the CPU.
    sklearn.linear_model.SGDRegressor : Stochastic gradient descent on the CPU.

    Notes
    -----
    The exact solver reads ``X`` once, in chunks, and never materialises a
    centred copy of it; its cost is that of forming ``X.T @ X``. Statistics of
    chunks merge with the update of Chan, Golub and LeVeque.

    The gradient solvers also divide ``y`` by its standard deviation (its
    root-mean-square without an intercept) while training. For squared loss
    with an L2 penalty this does not change the minimiser, and it makes the
    default learning rates and ``tol`` independent of the units of ``y``.

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
    """

    _parameter_constraints = {
        "fit_intercept": ["boolean"],
        "standardize": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"auto", "exact", "lbfgs", "adam", "sgd"})],
        "lr": [Interval(Real, 0, None, closed="neither"), None],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
        "device": [str, torch.device],
        "dtype": [StrOptions({"float32", "float64"}), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        fit_intercept=True,
        standardize=True,
        alpha=0.0,
        solver="auto",
        lr=None,
        momentum=0.9,
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        batch_size="auto",
        device="auto",
        dtype=None,
        random_state=None,
        verbose=0,
    ):
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.alpha = alpha
        self.solver = solver
        self.lr = lr
        self.momentum = momentum
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.batch_size = batch_size
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
        """
        self._clear_fitted_state()
        X, y = validate_data(
            self, X, y, dtype=_FLOAT_DTYPES, multi_output=True, y_numeric=True
        )
        Y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        device = resolve_device(self.device)
        solver = "exact" if self.solver == "auto" else self.solver
        if solver == "lbfgs" and isinstance(self.batch_size, Integral):
            raise ValueError(
                f"solver='lbfgs' uses the full batch, but batch_size="
                f"{self.batch_size} was given. Use batch_size=None (or 'auto'), or "
                "solver='adam'/'sgd' for mini-batches."
            )
        if solver == "exact":
            result = self._fit_exact(X, Y, sample_weight, device)
        else:
            result = self._fit_gradient(X, Y, sample_weight, device, solver)
        scaling, coef_std, intercept_std, path, net, loss_curve = result

        coef = scaling.y_scale[:, None] * coef_std / scaling.x_scale
        intercept = (
            scaling.y_mean + scaling.y_scale * intercept_std - coef @ scaling.x_mean
        )
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            raise FloatingPointError(
                "The fitted coefficients are not finite: the data overflow float64 "
                f"(max |X| = {np.max(np.abs(X)):.3g}, max |y| = "
                f"{np.max(np.abs(Y)):.3g}). Rescale X and y (e.g. divide by a "
                "power of ten) and fit again."
            )
        if y.ndim == 1:
            coef, intercept = coef[0], intercept[0]
        if not self.fit_intercept:
            intercept = 0.0  # as LinearRegression and Ridge report it
        self.coef_ = coef
        self.intercept_ = intercept
        self.scaler_ = self._make_scaler(scaling, X.shape[0])
        self.solver_ = solver
        self.solver_path_ = path
        self.net_ = net
        self.device_ = str(device)
        self.n_iter_ = len(loss_curve)
        self.loss_curve_ = loss_curve
        return self

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
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        return X @ self.coef_.T + self.intercept_

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coef_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _clear_fitted_state(self):
        for name in [name for name in vars(self) if name.endswith("_")]:
            delattr(self, name)

    def _scaling(self, moments):
        return _Scaling.from_moments(
            moments, fit_intercept=self.fit_intercept, standardize=self.standardize
        )

    def _fit_exact(self, X, Y, sample_weight, device):
        moments = compute_moments(
            X, Y, sample_weight, device=device, dtype=accumulation_dtype(device)
        )
        scaling = self._scaling(moments)
        gram, cross = moments.second_moments_about(scaling.x_mean, scaling.y_mean)
        active = ~scaling.constant
        x_scale = scaling.x_scale[active]
        gram = gram[np.ix_(active, active)] / np.outer(x_scale, x_scale)
        cross = cross[active] / np.outer(x_scale, scaling.y_scale)
        coef_std = np.zeros((X.shape[1], Y.shape[1]))
        path = "cholesky"
        if active.any():
            coef_std[active], path = solve_ridge(gram, cross, self.alpha)
        # At the solution, the objective is half of y's second moment less the
        # part explained: 0.5 * (sum(yy) - sum(coef * cross)).
        objective = 0.5 * (
            np.sum(scaling.y_second_moment) - np.sum(coef_std[active] * cross)
        )
        if self.verbose:
            print(
                f"[TorchLinearRegressor] exact solver on {device}: {path} solve of "
                f"{int(active.sum())} standardised features, objective {objective:.6g}"
            )
        intercept_std = np.zeros(Y.shape[1])
        return scaling, coef_std.T, intercept_std, path, None, [max(objective, 0.0)]

    def _fit_gradient(self, X, Y, sample_weight, device, solver):
        dtype = resolve_dtype(self.dtype, X.dtype, device)
        moments = compute_moments(
            X,
            Y,
            sample_weight,
            device=device,
            dtype=accumulation_dtype(device),
            full=False,
        )
        scaling = self._scaling(moments)
        batch_size = self.batch_size
        if batch_size == "auto":
            batch_size = None if solver == "lbfgs" else _AUTO_BATCH_SIZE
        lr = DEFAULT_LR[solver] if self.lr is None else self.lr
        net = build_net(
            solver=solver,
            n_features=X.shape[1],
            n_targets=Y.shape[1],
            fit_intercept=self.fit_intercept,
            alpha=self.alpha,
            lr=lr,
            momentum=self.momentum,
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            batch_size=batch_size,
            n_samples=X.shape[0],
            device=device,
            dtype=dtype,
            seed=check_random_state(self.random_state).randint(np.iinfo(np.int32).max),
            verbose=self.verbose,
        )
        inputs, target = standardized_tensors(
            X, Y, sample_weight, scaling, device=device, dtype=dtype
        )
        net.partial_fit(inputs, target)
        monitor = dict(net.callbacks_)["convergence"]
        loss_curve = [float(loss) for loss in net.history[:, "train_loss"]]
        if not monitor.converged_:
            if len(loss_curve) < self.max_iter:
                raise KeyboardInterrupt
            warnings.warn(
                f"solver={solver!r} reached max_iter={self.max_iter} epochs without "
                f"converging (tol={self.tol:g}). Increase max_iter, adjust lr, or "
                "use solver='exact'.",
                ConvergenceWarning,
            )
        linear = net.module_.linear
        coef_std = linear.weight.detach().to("cpu", torch.float64).numpy()
        intercept_std = np.zeros(Y.shape[1])
        if linear.bias is not None:
            intercept_std = linear.bias.detach().to("cpu", torch.float64).numpy()
        return scaling, coef_std, intercept_std, solver, net, loss_curve

    def _make_scaler(self, scaling, n_samples):
        scaler = StandardScaler(with_mean=self.fit_intercept, with_std=self.standardize)
        scaler.mean_ = scaling.x_mean_seen
        scaler.var_ = scaling.x_var
        scaler.scale_ = scaling.x_scale if self.standardize else None
        scaler.n_samples_seen_ = n_samples
        scaler.n_features_in_ = self.n_features_in_
        if hasattr(self, "feature_names_in_"):
            scaler.feature_names_in_ = self.feature_names_in_
        return scaler


@dataclass(frozen=True)
class _Scaling:
    """How the data are standardised before solving, from the moments.

    ``x_mean``/``y_mean`` are the centres (zeros without an intercept), the
    ``*_scale`` the divisors, ``constant`` marks columns that are constant when
    centring (their coefficients are zero), ``y_second_moment`` is the second
    moment of the standardised ``y`` per target.
    """

    x_mean: np.ndarray
    x_scale: np.ndarray
    x_mean_seen: np.ndarray
    x_var: np.ndarray
    constant: np.ndarray
    y_mean: np.ndarray
    y_scale: np.ndarray
    y_second_moment: np.ndarray

    @classmethod
    def from_moments(cls, moments, *, fit_intercept, standardize):
        x_var = _diagonal(moments.cxx) / moments.weight_sum
        y_var = _diagonal(moments.cyy) / moments.weight_sum
        for name, var in [("X", x_var), ("y", y_var)]:
            if not np.all(np.isfinite(var)):
                raise FloatingPointError(
                    f"The variance of {name} overflows float64 (values around "
                    "1e154 or larger). Rescale the affected columns (e.g. divide "
                    "by a power of ten) and fit again."
                )
        constant = _is_constant(x_var, moments.mean_x, moments.n_samples)
        x_scale = np.where(constant, 1.0, np.sqrt(x_var))
        if not standardize:
            x_scale = np.ones_like(x_var)
        x_mean = moments.mean_x if fit_intercept else np.zeros_like(moments.mean_x)
        y_mean = moments.mean_y if fit_intercept else np.zeros_like(moments.mean_y)
        y_second = y_var + (moments.mean_y - y_mean) ** 2
        y_scale = np.sqrt(y_second)
        y_scale[y_scale == 0] = 1.0
        return cls(
            x_mean=x_mean,
            x_scale=x_scale,
            x_mean_seen=moments.mean_x,
            x_var=x_var,
            constant=constant & fit_intercept,
            y_mean=y_mean,
            y_scale=y_scale,
            y_second_moment=y_second / y_scale**2,
        )


def _diagonal(matrix):
    return matrix if matrix.ndim == 1 else np.diag(matrix).copy()


def _is_constant(var, mean, n_samples):
    """Whether each column is constant up to the rounding of its mean and variance
    (the rule of scikit-learn's StandardScaler)."""
    eps = np.finfo(np.float64).eps
    return var <= n_samples * eps * var + (n_samples * mean * eps) ** 2
