"""The gradient solvers (``lbfgs``, ``adam``, ``sgd``): a skorch net trained on
the standardized data.

The data are standardized once, on their way to the device; the net
(:mod:`._net`) and its callbacks (:mod:`._callbacks`) are configured at
construction; a fit continues from an earlier one (``warm_start``,
``partial_fit``) or from a checkpoint (:mod:`.._checkpoint`); the trained
coefficients are folded back into the original units.
"""

import warnings
from dataclasses import replace
from functools import partial

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from skorch.history import History

from .. import _checkpoint
from .._data import split, training_tensors, warn_float32_resolution
from .._device import accumulation_dtype, float64_device, resolve_dtype, threads_for
from .._moments import accumulate
from .._scaling import Scaling
from .._warnings import warn
from . import _duality, _optimality, exact, newton
from ._base import Problem, SolverResult
from ._callbacks import ValidationScore
from ._net import build_net, net_state, tensors
from ._passes import Passes

# Whitened directions of variance below this fraction of the largest: a gap
# measured from the Gram matrix may miss what they give (see left_out).
ILL_CONDITIONED = 1e-8
# Newton steps of the optimality check of Huber fits, at most.
_NEWTON_STEPS = 50


def solve(problem, config):
    """Train the net of ``config.solver`` on ``problem``'s data: up to
    ``config.max_iter`` epochs, or one epoch over a streamed chunk."""
    data, previous, streaming = problem.data, problem.previous, problem.streaming
    dtype = resolve_dtype(config.dtype, data.dtype, config.device)
    seed, state, extra = _start(problem, config)
    train_data = data
    if config.early_stopping and not streaming:
        train_rows, valid_rows = split(data.shape[0], config.validation_fraction, seed)
        train_data, valid_data = data.rows(train_rows), data.rows(valid_rows)
    moments, scaling = problem.scaling or _scaling(
        train_data, config, previous, streaming, dtype
    )
    tensors = {"device": config.device, "dtype": dtype}
    # Streamed chunks weigh their rows against the mean weight of all rows seen.
    weight_mean = moments.weight_sum / moments.n_samples if streaming else None
    inputs, target = training_tensors(
        train_data, scaling, weight_mean=weight_mean, **tensors
    )
    if train_data is not data:
        validation = training_tensors(valid_data, scaling, densify=True, **tensors)
        extra.append(("validation", ValidationScore(*validation)))
    if streaming:
        epochs = 1
    else:
        epochs = config.max_iter - (len(state["history"]) if state else 0)
    measured = not streaming and train_data is data
    gap = _Gap(inputs, target, config, scaling) if measured else None
    net = build_net(
        config,
        scaling,
        train_data.shape,
        dtype=dtype,
        seed=seed,
        epochs=epochs,
        streaming=streaming,
        extra=extra,
        gap=gap,
    )
    if previous is not None:
        continue_from(previous, net, scaling)
    elif state is not None:
        _checkpoint.restore(state, net)
    status = train(net, inputs, target)
    diagnostics = {}
    if gap is not None and status != "interrupted":
        diagnostics["optimality_gap"] = gap(net)
        solution = _solution(net, scaling)
        diagnostics.update(left_out(data, config, scaling, *solution, dtype) or {})
        if "left_out" in diagnostics:
            status = "left_out"
        elif diagnostics["optimality_gap"] <= config.tol:
            status = "converged"
        elif status == "converged":  # measured in training, not by left_out
            status = "stalled"
    _warn(status, config, streaming, len(net.history), diagnostics)
    return _result(
        net, scaling, moments, config, seed, status, train_data is not data, diagnostics
    )


class _Gap:
    """The optimality measure of the training data: exact for squared error
    (``_optimality``; the R factor of the Hessian, formed at the first
    measurement, serves the later ones), a certified bound for the other
    losses, whose work finds a minimiser that the module takes when its
    objective is lower (Newton's for Huber, :mod:`.newton`; a linear
    programme's for the absolute and quantile losses, :mod:`._duality`): a
    gradient fit of those losses ends at the minimum once it is near enough
    for that step to find it."""

    def __init__(self, inputs, target, config, scaling):
        self.inputs, self.target, self.factor = inputs, target, None
        self.objective = objective = config.objective
        self.tol = config.tol
        self.scaling = scaling
        self.loss = None
        if objective.loss == "quantile":
            quantiles = np.asarray(objective.quantile, dtype=np.float64)
            self.loss = ("quantile", np.broadcast_to(quantiles, target.shape[1]))
        elif objective.loss == "absolute_error":
            self.loss = ("absolute_error", np.zeros(target.shape[1]))

    def __call__(self, net):
        if self.objective.loss == "huber":
            return self._huber(net.module_)
        if self.loss is not None:
            bias = net.module_.linear.bias is not None
            passes = Passes.of_training(self.inputs, self.target, bias)
            gap, better = _duality.relative_gap(
                net.module_, self.loss, passes, self.tol
            )
            if better is not None:
                net.module_.load_solution(*better)
            return gap
        gap, _, self.factor = _optimality.relative_gap(
            net.module_, self.inputs, self.target, self.factor
        )
        return gap

    def _huber(self, module):
        """The certified gap of Newton's minimiser from the module's
        coefficients and scale, which the module takes when its objective is
        lower (the certificate is first order in the gradient: tight only at
        the minimum); else that of the module's own.

        Newton's is taken when its objective is lower or equal within
        rounding."""
        linear = module.linear
        weight = linear.weight.detach().cpu().double().numpy()
        bias = linear.bias is not None
        x = (
            np.c_[weight, linear.bias.detach().cpu().double().numpy()]
            if bias
            else weight
        )
        passes = Passes.of_training(self.inputs, self.target, bias)
        l1 = module.l1.cpu().double().numpy()
        l2 = module.l2.cpu().double().numpy()

        def at_module():
            return newton.ScaledHuber(
                passes, self.objective.epsilon, l1, l2, x=x, sigma=module.scale()
            )

        huber = at_module()
        start = huber.value.sum()
        _, better = huber.minimise(_NEWTON_STEPS)
        if huber.value.sum() > start * (1 + 4 * np.finfo(float).eps):
            return at_module().certify()  # (lower within rounding: Newton's)
        intercept = huber.x[:, -1] if bias else np.zeros(len(x))
        module.load_solution(huber.x[:, : huber.p], intercept, huber.sigma)
        return better


def left_out(data, config, scaling, coef, intercept, dtype):
    """Check a whitened fit of ``(coef, intercept)`` (original units) against
    the exact least-squares fit, when whitening left out directions of ``X``
    (variance below the resolution of the training ``dtype`` relative to the
    largest, see :meth:`Scaling.whitened`) or kept some of variance below
    ``ILL_CONDITIONED`` relative: then the gap measured in the whitened
    coordinates, or from a Gram matrix, can miss what those directions give
    (measured on NIST's Filip: ``1e-15`` or 0 for least-squares fits 40% to
    10 times above the minimum).

    The exact fit's rank, from an R factor of the data, counts the directions
    the data determine; more than whitening kept means the fit could not reach
    the minimum (``"left_out"`` in the diagnostics). For squared error the
    exact fit also gives the minimum, and a pass over the data the true gap;
    for the other losses, whose minimum it does not give, the gap of a fit that
    left directions out is unknown (``inf``). Returns diagnostics to update,
    None when there is nothing to check."""
    if scaling.whitening is None:
        return None
    variances = scaling.whitened_variances
    kept = int(np.count_nonzero(variances))
    smallest = variances[variances > 0].min() / variances.max() if kept else 1.0
    if kept == int(np.sum(~scaling.constant)) and smallest >= ILL_CONDITIONED:
        return None
    least_squares = replace(config.objective, loss="squared_error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its accuracy is not the question
        exact_fit = exact.solve(Problem(data), replace(config, objective=least_squares))
    missing = exact_fit.diagnostics["rank"] - kept
    diagnostics = {"optimality_gap": np.inf}
    if config.objective.loss == "squared_error":
        fitted, minimum = _objectives(
            data,
            config.device,
            scaling,
            [(coef, intercept), (exact_fit.coef, exact_fit.intercept)],
        )
        at_zero = 0.5 * len(intercept)  # as _optimality floors it
        floor = _optimality.OPTIMUM_FLOOR * at_zero
        diagnostics["optimality_gap"] = max(fitted - minimum, 0.0) / max(minimum, floor)
    elif missing <= 0:
        return None  # the gap measured in training stands
    if missing > 0 and diagnostics["optimality_gap"] > config.tol:
        diagnostics["left_out"] = missing
        diagnostics["dtype"] = str(dtype).removeprefix("torch.")
    return diagnostics


def warn_left_out(config, diagnostics):
    """The warning of a fit that :func:`left_out` diagnosed."""
    gap = diagnostics["optimality_gap"]
    how_far = (
        f"stops {gap:.2g} (relative) above the minimum of the training objective"
        if np.isfinite(gap)
        else "cannot reach the minimum, and its distance to it is not measured"
    )
    # Both measured to help on NIST's Filip; the exact robust solvers do not
    # resolve those directions either.
    advice = (
        "Use solver='exact' for the optimum."
        if config.objective.loss == "squared_error"
        else "Make the columns less collinear (for powers of one variable, an "
        "orthogonal basis such as Legendre polynomials fits the same model): "
        "the fit then reaches the minimum."
    )
    warn(
        f"solver={config.solver!r}: X has {diagnostics['left_out']} "
        "direction(s) that the data determine (not exact dependencies between "
        "the columns) but whose variance, relative to the largest, is too "
        f"small for training in {diagnostics['dtype']} to resolve. The fit "
        f"leaves them out and {how_far}. {advice}",
        ConvergenceWarning,
    )


def _solution(net, scaling):
    """The net's coefficients and intercepts in the original units."""
    linear = net.module_.linear
    weight = linear.weight.detach().to("cpu", torch.float64).numpy()
    bias = np.zeros(weight.shape[0])
    if linear.bias is not None:
        bias = linear.bias.detach().to("cpu", torch.float64).numpy()
    return scaling.unstandardize(weight, bias)


def _objectives(data, device, scaling, solutions):
    """The squared-error training objective of each ``(coef, intercept)``
    (original units) on the standardized problem, from one pass over the data
    in float64 (one task per part for rows held by Dask): ``sum_k mean_w ((y_k
    - x coef_k - b_k) / y_scale_k)^2 / 2``."""
    part = partial(_residual_sums, solutions=solutions, scaling=scaling)
    sums = data.map_reduce(part, np.add, device)
    return 0.5 * sums[:-1] / sums[-1]


def _residual_sums(data, device, *, solutions, scaling):
    """``sum_i w_i sum_k r_ik^2`` of the standardized residuals of each
    solution, then ``sum_i w_i``."""
    work = float64_device(torch.device(device))
    y_scale = torch.as_tensor(scaling.y_scale, device=work)
    solutions = [
        (torch.as_tensor(coef, device=work).T, torch.as_tensor(b, device=work))
        for coef, b in solutions
    ]
    sums = np.zeros(len(solutions) + 1)
    for x, y, w in data.blocks(device=work, dtype=torch.float64):
        w = torch.ones_like(y[:, 0]) if w is None else w
        for i, (coef, b) in enumerate(solutions):
            sums[i] += float(w @ ((y - x @ coef - b) / y_scale).square().sum(1))
        sums[-1] += float(w.sum())
    return sums


def _warn(status, config, streaming, n_epochs, diagnostics):
    if status == "left_out":
        warn_left_out(config, diagnostics)
    elif status == "interrupted":
        warn(
            f"Training was interrupted after {n_epochs} complete epoch(s); the model "
            "holds the parameters reached so far. Call fit again (with "
            "warm_start=True to continue from them).",
            UserWarning,
        )
    elif "optimality_gap" in diagnostics and status != "converged":
        why = "reached max_iter" if status == "max_iter" else "stopped improving"
        warn(
            f"solver={config.solver!r} {why} after {n_epochs} epoch(s) with a "
            f"training objective {diagnostics['optimality_gap']:.2g} (relative) "
            f"above its minimum, measured on all the training data (tol="
            f"{config.tol:g}).{_advice(config, status)}",
            ConvergenceWarning,
        )
    elif status == "max_iter" and not streaming:
        warn(
            f"solver={config.solver!r} reached max_iter={config.max_iter} without "
            f"converging (tol={config.tol:g}). Increase max_iter, adjust lr, or use "
            "solver='exact' for squared error.",
            ConvergenceWarning,
        )


def _advice(config, status):
    """What brings a fit that stopped short to the optimum (each piece of
    advice measured to help)."""
    more = status == "max_iter"
    if config.objective.loss == "squared_error":
        return " Use solver='exact' for the optimum" + (
            ", or increase max_iter." if more else "."
        )
    return " Increase max_iter." if more else ""


def _start(problem, config):
    """The fit's seed, the training state to resume from (a checkpoint of the
    same fit) and the checkpoint callback, as a list of named callbacks."""
    previous = problem.previous
    if previous is not None and previous.seed is not None:
        return previous.seed, None, []
    if previous is not None:  # streaming on from an exact fit
        return _new_seed(config.random_state), None, []
    if config.checkpoint is None or problem.streaming:
        return _new_seed(config.random_state), None, []
    data = problem.data
    trajectory = config.trajectory()
    trajectory["callbacks"] = _checkpoint.describe_callbacks(config.callbacks)
    _checkpoint.check_writable(config.checkpoint)
    key = _checkpoint.fingerprint(trajectory, [data.X, data.Y, data.sample_weight])
    path = _checkpoint.checkpoint_file(config.checkpoint, key)
    state = _checkpoint.load(path, key) if path.exists() else None
    seed = state["seed"] if state else _new_seed(config.random_state)
    return seed, state, [("checkpoint", _checkpoint.SaveCheckpoint(path, key, seed))]


def _new_seed(random_state):
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _scaling(data, config, previous, streaming, dtype):
    """The statistics the scaling comes from, and the scaling: of the data;
    under ``warm_start`` those of the previous fit; when streaming, of all the
    chunks seen so far, so that the scaling follows the data as they arrive.

    With ``standardize``, without a penalty (which is defined on the
    standardized coefficients) and when not streaming, the scaling also
    whitens, for training in ``dtype``: on data with uncorrelated columns of
    unit variance, the Hessian of squared error is the identity and those of
    the other losses are near it, so that Adam, SGD and L-BFGS do not crawl
    along the directions of correlated columns (measured on the diabetes data:
    Adam stopped 4e-3 above the minimum of squared error after 2000 epochs
    without).
    """
    if previous is not None and not streaming:
        return previous.moments, previous.scaling
    device, objective = config.device, config.objective
    whiten = not streaming and _whitens(config, data.shape[1])
    moments = accumulate(
        data, device=device, dtype=accumulation_dtype(device, warn=False), full=whiten
    )
    warn_float32_resolution(data, moments)
    if previous is not None:
        moments = previous.moments.merge(moments)
    scaling = Scaling.from_moments(
        moments,
        fit_intercept=objective.fit_intercept,
        standardize=objective.standardize,
    )
    if whiten:
        scaling = whitened(scaling, moments, config, data.shape[1], dtype)
        moments = replace(moments, gram=None)  # (p + k)^2 values not needed again
    return moments, scaling


def _whitens(config, n_features):
    objective = config.objective
    return objective.standardize and objective.alpha == 0 and n_features > 1


def whitened(scaling, moments, config, n_features, dtype):
    """``scaling``, whitening too where the fit whitens (see :func:`_scaling`;
    ``moments`` with their Gram matrix) for training in ``dtype``."""
    if not _whitens(config, n_features):
        return scaling
    return scaling.whitened(moments, torch.finfo(dtype).eps)


def continue_from(previous, net, scaling):
    """Start ``net`` where the fit of ``previous`` (a :class:`SolverResult`)
    ended: its model, re-expressed in ``scaling`` when the scaling has changed
    (streaming), a copy of its history, its shuffling state, and its optimizer
    state when the optimizer is the same (a previous exact fit gives its
    solution only). ``previous.net`` is the trained net, or its
    :func:`net_state` (a fit loaded from a pickle or a skops file). The
    hyperparameters are ``net``'s own, so parameters changed since are
    honoured; ``previous`` is left as it was.
    """
    old = previous.net
    saved = old if old is None or isinstance(old, dict) else net_state(old)
    if saved is None or scaling is not previous.scaling:
        scale = None if previous.scale is None else previous.scale / scaling.y_scale
        net.module_.load_solution(
            *scaling.standardize(previous.coef, previous.intercept), scale
        )
    else:
        module = tensors(saved["module"])
        with torch.no_grad():
            net.module_.linear.weight.copy_(module["linear.weight"])
            if net.module_.linear.bias is not None:
                net.module_.linear.bias.copy_(module["linear.bias"])
            if net.module_.log_scale is not None and "log_scale" in module:
                net.module_.log_scale.copy_(module["log_scale"])
    if saved is None:  # an exact fit: its solution, and nothing else to continue
        return
    if saved["optimizer_type"] == type(net.optimizer_).__name__:
        state = tensors(saved["optimizer"])
        state["param_groups"] = [
            {
                **{k: v for k, v in fresh.items() if k != "params"},
                "params": kept["params"],
            }
            for kept, fresh in zip(state["param_groups"], net.optimizer_.param_groups)
        ]
        net.optimizer_.load_state_dict(state)
    net.history = History(tensors(saved["history"]))  # new epochs append records
    net.iterator_train__generator.set_state(tensors(saved["generator"]))


def train(net, inputs, target):
    """Run up to ``net.max_epochs`` epochs unless training has stopped already.
    Return ``"converged"``, ``"stalled"`` (stopped short, see
    ``ConvergenceCheck``), ``"max_iter"``, or ``"interrupted"`` when the user
    interrupted training (a ``KeyboardInterrupt`` that skorch swallowed but the
    stopping rule did not raise) after at least one complete epoch; an
    interruption before that is raised again. An epoch cut short leaves no
    record in the history.
    """
    check, epochs = dict(net.callbacks_)["convergence"], net.max_epochs
    if epochs > 0 and not (check.converged_ or check.stalled_):
        done = len(net.history)
        # Small batches on one thread, as the exact solver's small blocks: on 2
        # cores, Adam on batches of 200 x 20 ran 4% faster with 2 threads on an
        # idle machine, and 3.7x slower while another process kept a core busy.
        with threads_for(
            min(net.batch_size, len(target)) * net.module_.linear.in_features
        ):
            net.partial_fit(inputs, target)
        if net.history and "train_loss" not in net.history[-1]:
            net.history.pop()
        stopped = check.converged_ or check.stalled_
        if not stopped and len(net.history) - done < epochs:
            if len(net.history) == done:
                raise KeyboardInterrupt
            return "interrupted"
    if check.converged_:
        return "converged"
    return "stalled" if check.stalled_ else "max_iter"


def _result(net, scaling, moments, config, seed, status, validating, diagnostics):
    loss_curve = [float(v) for v in net.history[:, "train_loss"]]
    scale = net.module_.scale()
    return SolverResult(
        *_solution(net, scaling),
        scaling=scaling,
        scale=None if scale is None else scale * scaling.y_scale,
        solver=config.solver,
        path=config.solver,
        n_iter=len(loss_curve),
        converged=status == "converged",
        loss_curve=loss_curve,
        validation_scores=(
            [float(v) for v in net.history[:, "valid_r2"]] if validating else None
        ),
        diagnostics=diagnostics,
        moments=moments,
        net=net,
        seed=seed,
    )
