"""Training to accuracy: the smallest ``max_iter`` with which a contender reaches
a test R^2 target, and the time of one fit with it."""

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from .._common import quiet_warnings, r2_score
from ._rows import row

# Target of the training-to-accuracy workloads: test R^2 within this of the optimum.
R2_TOLERANCE = 1e-3


def accuracy_data(ctx):
    """``make_regression`` (noise 10) split 75% train, 25% test.

    Parameters
    ----------
    ctx : Context
        The run (its ``accuracy`` size).

    Returns
    -------
    list of ndarray
        ``X_train, X_test, y_train, y_test``.
    """
    n, p = ctx.sizes["accuracy"]
    X, y = make_regression(n_samples=n, n_features=p, noise=10.0, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


@dataclass(frozen=True)
class Trainer:
    """A contender of the training-to-accuracy workloads.

    ``make(max_iter)`` returns an unfitted estimator. With ``budget=None`` it is
    timed as it is (its own stopping rule); otherwise the smallest ``max_iter``
    up to ``budget`` whose fit reaches the target is searched first, and a fit
    with that ``max_iter`` is timed. ``search`` is ``"doubling"`` (fresh fits
    with max_iter 1, 2, 4, ... then bisection) or ``"partial_fit"`` (one epoch
    per call, scored after each; the ``max_iter`` found is then checked with a
    fresh fit).
    """

    make: object
    budget: int | None = None
    search: str = "doubling"
    epochs_attr: str | None = "n_iter_"
    reference: bool = False


def _first_reaching(fit_k, score, target, budget):
    """Smallest ``k <= budget`` such that ``fit_k(k)`` scores at least
    ``target``, by doubling then bisection, or None.

    It relies on a fit with ``max_iter=k`` being the first ``k`` epochs of a
    longer one (true for a fixed ``random_state``).
    """
    k, low = 1, 0
    while True:
        k = min(k, budget)
        if score(fit_k(k)) >= target:
            break
        if k == budget:
            return None
        low, k = k, 2 * k
    high = k
    while high - low > 1:
        middle = (low + high) // 2
        if score(fit_k(middle)) >= target:
            high = middle
        else:
            low = middle
    return high


def _search_by_partial_fit(trainer, fit_k, partial_fit, score, target):
    """Epochs to the target found with one ``partial_fit`` call per epoch, then
    confirmed by fresh fits (a few more epochs at most; doubling search if the
    two disagree more)."""
    model = trainer.make(trainer.budget)
    for k in range(1, trainer.budget + 1):
        partial_fit(model)
        if score(model) >= target:
            break
    else:
        return None
    for candidate in range(k, min(k + 3, trainer.budget) + 1):
        if score(fit_k(candidate)) >= target:
            return candidate
    return _first_reaching(fit_k, score, target, trainer.budget)


@dataclass
class _Problem:
    """The data of a training-to-accuracy workload, and how a model is fitted
    (quietly) and scored on them."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    target: float

    def score(self, model):
        return r2_score(self.y_test, model.predict(self.X_test))

    def fit(self, model):
        with quiet_warnings(ConvergenceWarning, UserWarning):
            return model.fit(self.X_train, self.y_train)

    def partial_fit(self, model):
        with quiet_warnings(ConvergenceWarning, UserWarning):
            return model.partial_fit(self.X_train, self.y_train)


def _choose_max_iter(ctx, problem, trainers):
    """The ``max_iter`` to time each trainer with (None: its own stopping rule),
    and a note for each that missed the target within its budget."""
    chosen, notes = {}, {}
    for name, trainer in trainers.items():
        if trainer.budget is None:
            chosen[name] = None
            continue

        def fit_k(k, trainer=trainer):
            return problem.fit(trainer.make(k))

        if trainer.search == "partial_fit":
            k = _search_by_partial_fit(
                trainer, fit_k, problem.partial_fit, problem.score, problem.target
            )
        else:
            k = _first_reaching(fit_k, problem.score, problem.target, trainer.budget)
        chosen[name] = trainer.budget if k is None else k
        if k is None:
            notes[name] = f"target not reached within max_iter={trainer.budget}"
        ctx.log(f"  {name}: max_iter={chosen[name]}")
    return chosen, notes


def time_to_target(ctx, workload, data, optimum, trainers):
    """Time to the target (``optimum - R2_TOLERANCE``) of each :class:`Trainer`.

    Parameters
    ----------
    ctx : Context
        The run.
    workload : str
        Name of the workload in the rows.
    data : tuple of ndarray
        ``X_train, y_train, X_test, y_test``.
    optimum : float
        The best test R^2.
    trainers : dict of str to Trainer
        The contenders.

    Returns
    -------
    rows : list of dict
        A row per trainer, with its test R^2, its gap to the optimum, whether it
        reached the target and the epochs its timed fit ran.
    times : dict of str to list of float
        The timed repeats of each trainer.
    """
    problem = _Problem(*data, target=optimum - R2_TOLERANCE)
    chosen, notes = _choose_max_iter(ctx, problem, trainers)
    fitted = {}
    calls = {
        name: (
            lambda name=name, trainer=trainer: fitted.__setitem__(
                name, problem.fit(trainer.make(chosen[name]))
            )
        )
        for name, trainer in trainers.items()
    }
    times = ctx.measure(calls)
    rows = []
    for name, trainer in trainers.items():
        model = fitted[name]
        r2 = problem.score(model)
        epochs = chosen[name]
        if trainer.epochs_attr is not None:
            epochs = int(np.max(getattr(model, trainer.epochs_attr)))
        rows.append(
            row(
                workload,
                name,
                times[name],
                n=problem.X_train.shape[0],
                p=problem.X_train.shape[1],
                ctx=ctx,
                reference=trainer.reference,
                r2=r2,
                r2_gap=optimum - r2,
                reached_target=bool(r2 >= problem.target),
                epochs=epochs,
                note=notes.get(name, ""),
            )
        )
    return rows, times
