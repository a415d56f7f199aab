"""TorchLinearRegressor: the scikit-learn estimator.

A facade: it validates parameters and data, builds a :class:`Config`, hands the
data to one solver family (:mod:`.solvers`) and sets its fitted attributes from
the :class:`SolverResult`. It does no numerical work of its own.
"""

import os
from numbers import Integral, Real

import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from . import _fitted, solvers
from ._config import Config
from ._dask import check_features, dask_data, is_dask
from ._dask import predict as dask_predict
from ._data import Data, matmul
from ._device import resolve_device
from ._export import to_torch as export_torch
from ._fitted import clear_fitted, kept_on_failure, set_fitted
from ._inference import singular_values
from ._statistics import InferenceMixin
from ._validation import quantiles, validate, validate_X
from .solvers._policy import check_streams


def _streams(estimator):
    check_streams(estimator.solver)
    return True


class TorchLinearRegressor(InferenceMixin, RegressorMixin, BaseEstimator):
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
    when ``standardize=True`` (the penalty applies to the standardized
    coefficients, as in glmnet), ones otherwise. With ``standardize=False`` this
    is scikit-learn's ``ElasticNet``, ``Ridge`` (``alpha * sum(s)``),
    ``HuberRegressor`` and ``QuantileRegressor`` (see :ref:`objective`).

    The ``exact`` solver solves squared error from weighted sufficient
    statistics of the data (Cholesky, or an R factor when ill conditioned, then
    refined against the data; coordinate descent with an L1 penalty), and the
    robust losses by Newton's or an interior-point method to a certified
    optimum. The gradient solvers (``lbfgs``, ``adam``, ``sgd``) train a
    :class:`torch.nn.Linear` through a skorch net on the standardized data
    (proximal steps give the L1 penalty exact zeros). Coefficients are reported
    in the original units of ``X`` and ``y`` whatever the solver. The
    :ref:`user guide <solvers>` explains each solver and how it is chosen.

    Parameters
    ----------
    loss : {"squared_error", "huber", "absolute_error", "quantile"}, \
            default="squared_error"
        The loss ``L`` of the objective above.

    epsilon : float, default=1.35
        Threshold of the Huber loss in units of the scale of the residuals
        (``scale_``, estimated with the coefficients), in ``(1, inf)``:
        residuals beyond ``epsilon * scale_`` count linearly (``outliers_``).

    quantile : float or array-like of float, default=0.5
        The quantile of the ``"quantile"`` loss, in ``(0, 1)``. A list fits
        one model per quantile in one call (one row of ``coef_`` and one
        column of ``predict`` each; ``y`` must be one target).

    fit_intercept : bool, default=True
        Whether to fit an intercept. If False, the data are not centred.

    standardize : bool, default=True
        Whether to divide the columns of ``X`` by their (weighted) standard
        deviation before solving (a built-in ``StandardScaler``, ``scaler_``):
        it conditions every solver and sets the scale ``alpha`` penalises.

    alpha : float, default=0.0
        Strength of the penalty, in ``[0, inf)``; see the objective above.

    l1_ratio : float, default=0.0
        Mix of the penalty, in ``[0, 1]``: 0 is ridge (L2), 1 is lasso (L1).

    solver : {"auto", "exact", "lbfgs", "adam", "sgd"}, default="auto"
        - ``"auto"``: ``"exact"`` for every loss in ``fit``; in
          ``partial_fit``, ``"exact"`` for squared error and ``"adam"`` for
          the others.
        - ``"exact"``: squared error from the sufficient statistics (closed
          form, or coordinate descent with an L1 penalty), in one pass; the
          absolute and quantile losses by a primal-dual interior-point method
          (the exact vertex without an L2 penalty) and Huber by Newton's method
          in the coefficients and the scale, each to a certified optimum
          (``optimality_gap_``). In ``partial_fit``, squared error only.
        - ``"lbfgs"``: full-batch L-BFGS with a strong Wolfe line search, for
          smooth objectives (squared error or Huber, ``l1_ratio=0``); not for
          ``partial_fit``.
        - ``"adam"``: mini-batch Adam.
        - ``"sgd"``: mini-batch stochastic gradient descent.

        Without a penalty the gradient solvers train on whitened data; their
        optimality check finds a minimiser for the robust losses and takes it
        when it is better (see :ref:`convergence`).

    lr : float, default=None
        Learning rate of the gradient solvers, in ``(0, inf)``. None means 1.0
        for ``"lbfgs"`` (line search), ``1e-2 * sqrt(min(1, 2000 / n))`` for
        ``"adam"`` (``n`` the rows seen) and ``1e-2 * sqrt(min(batch, 200) /
        200)`` for ``"sgd"``; stalls divide it by 10. Ignored by ``"exact"``.

    momentum : float, default=0.9
        Momentum of ``"sgd"`` (Nesterov's when positive), in ``[0, 1)``; 0 is
        plain stochastic gradient descent. Not used with an L1 penalty (SGD is
        then proximal SGD, which momentum would break) nor by other solvers.

    max_iter : int, default=200
        Maximum number of epochs (passes over the data) of the gradient solvers,
        or of sweeps of coordinate descent, in ``[1, inf)``. For ``"lbfgs"`` an
        epoch is one call of the optimizer, which runs up to 20 iterations.

    tol : float, default=1e-4
        Convergence tolerance, in ``[0, inf)``, relative to the problem: a fit
        has converged when its measured distance to the minimum
        (``optimality_gap_``) is at most ``tol``. Training stalls when the
        objective improves by less than ``tol`` times its value within
        ``n_iter_no_change`` epochs (see :ref:`convergence`).

    n_iter_no_change : int, default=10
        Number of epochs without improvement before training stops (or Adam and
        SGD decay their learning rate; see ``tol``), in ``[1, inf)``.

    early_stopping : bool, default=False
        Whether a gradient fit holds out ``validation_fraction`` of the data,
        stops when the validation R² stops improving and keeps the best epoch.

    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping, in
        ``(0, 1)``.

    batch_size : int, "auto" or None, default="auto"
        Rows per shuffled mini-batch of ``"adam"`` and ``"sgd"``, in ``[1,
        inf)``; ``"auto"`` is ``min(200, ceil(n_samples / 10))``, None the full
        batch (always for ``"lbfgs"``).

    warm_start : bool, default=False
        Whether ``fit`` continues from the previous gradient fit (coefficients,
        scaling, shuffling and optimizer state); parameters changed since apply
        from there on, and ``n_iter_`` and ``loss_curve_`` accumulate (see
        :ref:`warm-start`).

    checkpoint : str or path-like, default=None
        A folder in which a gradient fit saves its complete state after every
        epoch, atomically; a fit started again with the same data, parameters
        and folder resumes from the last complete epoch. Each fit's file is
        named after a fingerprint of its data, parameters and callbacks, so
        fits never share a file, and a damaged or foreign file raises an error
        (see :ref:`checkpoints`).

    callbacks : list or tuple of skorch.callbacks.Callback, default=None
        Extra :mod:`skorch.callbacks` for the gradient solvers (learning-rate
        schedulers, gradient clipping, ...), as instances or ``(name,
        callback)`` tuples. They run before the convergence check.

    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA, else MPS, else the CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:N"``, ``"mps"`` or a :class:`torch.device`; a device this
        machine lacks is refused at ``fit``, listing the available ones.

    dtype : {"float32", "float64"}, default=None
        Compute dtype of the gradient solvers; None follows the validated
        input. MPS has no float64 (float32 there, with a warning); the exact
        solvers accumulate in float64.

    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling and the validation split through a local
        :class:`torch.Generator`; an int makes CPU fits reproducible.

    verbose : int, default=0
        0 prints nothing; 1 prints the solver path (exact) or shows a progress
        bar with the training loss and validation R² (gradient solvers).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients in the original units of ``X`` and ``y``; 1-D for 1-D y.

    intercept_ : float or ndarray of shape (n_targets,)
        Intercept in the units of ``y``; 0.0 if ``fit_intercept=False``.

    scaler_ : sklearn.preprocessing.StandardScaler
        The fitted scaler of ``X`` (weighted statistics of the training data).

    solver_ : str
        The solver used (``"auto"`` resolved).

    solver_path_ : str
        How the coefficients were obtained: ``"cholesky"`` or ``"qr"`` (exact
        least squares, well or ill conditioned), ``"coordinate_descent"``
        (an L1 penalty), ``"newton"`` (Huber) or ``"interior_point"``
        (absolute and quantile losses); the solver's name otherwise.

    net_ : skorch.net.NeuralNet
        The skorch net of the linear model (a :class:`torch.nn.Linear`
        inside), holding the solution whatever the solver: the trained net of
        a gradient solver, or a net built on first access after an exact fit.

    moments_ : Moments or None
        The weighted sufficient statistics of all data seen (exact least
        squares; a Gram matrix or an R factor), which ``partial_fit`` merges
        new chunks into; None otherwise.

    rank_ : int
        Numerical rank of the standardized (centred, weighted) ``X``, from the
        singular values of its R factor above their rounding level. Exact
        least squares only; computed on first access.

    singular_ : ndarray of shape (n_features,)
        Singular values of the standardized (centred, weighted) ``X``, in
        decreasing order. Exact least squares only; computed on first access.

    device_ : str
        The device used for fitting, e.g. ``"cpu"`` or ``"cuda:0"``.

    n_iter_ : int
        Epochs (gradient solvers), sweeps (coordinate descent), iterations
        (interior point, Newton) or passes over the data (exact least squares),
        summed over ``partial_fit`` calls.

    scale_ : float or ndarray of shape (n_targets,)
        The scale of the residuals (Huber loss only), in the units of ``y``.

    outliers_ : ndarray of bool of shape (n_samples,) or (n_samples, n_targets)
        Training rows whose residual exceeds ``epsilon * scale_`` (Huber).

    optimality_gap_ : float, ndarray of shape (n_targets,) or None
        How far the training objective of each target is above its minimum,
        relative to the minimum (or, when the model fits the data exactly, to
        a small fraction of the objective at zero coefficients), measured on
        all the training data: exact for squared error (for exact least
        squares, the decrease left after refinement), a bound certified by
        duality for the elastic net and the other losses. A
        ``ConvergenceWarning`` is raised exactly when a target's exceeds
        ``tol``. None for early stopping and gradient ``partial_fit``. See
        :ref:`convergence` and :ref:`certification`.
    loss_curve_ : list of float
        Training objective per epoch on the standardized problem (``y``
        divided by its standard deviation too), as skorch records it; for the
        exact solver, the objective at the solution.

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
    ``partial_fit`` on any chunking gives the coefficients of ``fit`` (see
    :ref:`partial-fit`); a fitted estimator pickles to NumPy and CPU state
    only, so a model trained on CUDA or MPS loads on a machine without them.

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

    Huber regression, with the scale of the residuals estimated:

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> y = X @ np.array([1.0, 2.0]) + rng.normal(size=200)
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
            Training data (float32 and float64 kept, other input as float64).

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, not all zero (``k`` repeats a sample k times).

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

    @available_if(_streams)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one more chunk of data.

        The exact solver merges the chunk's statistics into those of the
        earlier chunks (any chunking gives the coefficients of ``fit``); Adam
        and SGD run one epoch over it (after an exact fit of a robust loss,
        Adam streams on from its solution). Not available with
        ``solver="lbfgs"``. A failed update leaves the model as it was.

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
        return matmul(validate_X(self, X), self.coef_.T) + self.intercept_

    def to_torch(self, device=None, dtype="float64"):
        """The fitted model as a plain :class:`torch.nn.Module`.

        An :class:`torch.nn.Linear` holding ``coef_`` and ``intercept_`` (the
        scaling folded in), followed by ``nn.Flatten(0)`` for a 1-D ``y``: it
        takes ``X`` in its original units, returns ``predict(X)`` and needs
        nothing of this package to run (see :doc:`/deployment`).

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
        return export_torch(
            self.coef_,
            self.intercept_,
            device=device,
            dtype=dtype,
            fitted_on=self._config.device,
        )

    @property
    def net_(self):
        """The skorch net of the linear model, holding the solution."""
        check_is_fitted(self)
        self._result = solvers.with_net(self._result, self._config)
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
        moments = getattr(self, "moments_", None)
        scaling = getattr(getattr(self, "_result", None), "scaling", None)
        return singular_values(moments, scaling, fit_intercept=self.fit_intercept)

    def __getstate__(self):
        return _fitted.pickled(super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(_fitted.unpickled(state, type(self).__name__))

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coef_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags

    # -- one dispatch for fit and partial_fit -----------------------------------

    def _fit(self, X, y, sample_weight, *, streaming):
        """Fit (``streaming=False``) or update (``partial_fit``) the model; a
        call that raises leaves the estimator exactly as it was (its fitted
        attributes included), as scikit-learn's estimators do."""
        with kept_on_failure(self):
            return self._fit_once(X, y, sample_weight, streaming=streaming)

    def _fit_once(self, X, y, sample_weight, *, streaming):
        """One route from the policy, one solver, whose result sets the fitted
        attributes."""
        params = self.get_params()
        route = solvers.route(
            params,
            streaming=streaming,
            dask=is_dask(X),
            fitted=getattr(self, "solver_", None),
        )
        previous = self._result if route.continues else None
        if previous is None:
            clear_fitted(self)
        data, y_ndim = self._data(X, y, sample_weight, route, previous, streaming)
        if data is None:
            return self  # a chunk of zero weight teaches a gradient solver nothing
        if previous is not None and data.shape[2] != previous.coef.shape[0]:
            raise ValueError(
                f"y has {data.shape[2]} target(s), but the model was fitted with "
                f"{previous.coef.shape[0]}. Pass the same targets in every "
                "partial_fit call (or in fit with warm_start=True)."
            )
        config = Config.from_params(
            params, solver=route.solver, device=resolve_device(self.device)
        )
        problem = solvers.Problem(data, previous=previous, streaming=streaming)
        result = solvers.solve(problem, config)
        set_fitted(self, result, config, y_ndim if previous is None else None)
        return self

    def _data(self, X, y, sample_weight, route, previous, streaming):
        """The validated :class:`Data` (or Dask data) of a call and the number
        of dimensions of ``y``; None for a zero-weight chunk of a gradient
        solver."""
        reset = previous is None
        several = quantiles(self.loss, self.quantile)
        if is_dask(X):
            data, y_ndim = dask_data(
                self, X, y, sample_weight, reset=reset, quantiles=several
            )
            return (data.persist() if route.persist else data), y_ndim
        X, Y, sample_weight, y_ndim = validate(
            self,
            X,
            y,
            sample_weight,
            reset=reset,
            check_finite=route.check_finite,
            allow_all_zero=streaming and previous is not None,
            quantiles=several,
        )
        zero_weight = sample_weight is not None and not sample_weight.any()
        if zero_weight and route.solver != "exact":
            return None, y_ndim
        return Data(X, Y, sample_weight), y_ndim
