"""What a fit minimises and how: frozen snapshots of the estimator's parameters.

The estimator builds one :class:`Config` per call of ``fit`` or ``partial_fit``
from ``get_params()`` and hands it to a solver; solvers read it and nothing else
of the estimator, so that a fit cannot see parameters changed while it runs and
a solver can be called without an estimator.
"""

from dataclasses import dataclass, fields, replace

import numpy as np
import torch

# Parameters that do not change the trajectory of a gradient fit (a checkpoint
# written under other values of these still belongs to the same fit), and the
# callbacks, which the checkpoint describes itself.
_NOT_IN_FINGERPRINT = ("callbacks", "checkpoint", "max_iter", "verbose", "warm_start")
_OBJECTIVE = (
    "loss",
    "epsilon",
    "quantile",
    "alpha",
    "l1_ratio",
    "fit_intercept",
    "standardize",
)


@dataclass(frozen=True)
class Objective:
    """The function minimised (see the estimator's docstring)."""

    loss: str
    epsilon: float
    quantile: float | tuple
    alpha: float
    l1_ratio: float
    fit_intercept: bool
    standardize: bool

    @property
    def has_l1(self):
        return self.alpha > 0 and self.l1_ratio > 0


@dataclass(frozen=True)
class Config:
    """Everything a solver needs to know about one call of ``fit`` or
    ``partial_fit``: the objective, the solver (``"auto"`` resolved), the
    device (resolved) and the solvers' settings, as the estimator's parameters
    of the same names."""

    objective: Objective
    solver: str
    device: torch.device
    dtype: str | None
    lr: float | None
    momentum: float
    max_iter: int
    tol: float
    n_iter_no_change: int
    early_stopping: bool
    validation_fraction: float
    batch_size: object
    warm_start: bool
    checkpoint: object
    callbacks: tuple
    random_state: object
    verbose: int

    @classmethod
    def from_params(cls, params, *, solver, device):
        """The configuration of ``get_params()`` with the resolved ``solver`` and
        ``device``."""
        values = {name: params[name] for name in _OBJECTIVE}
        if np.ndim(values["quantile"]):  # several: one per target, hashable
            values["quantile"] = tuple(float(q) for q in values["quantile"])
        objective = Objective(**values)
        settings = {
            field.name: params[field.name]
            for field in fields(cls)
            if field.name not in ("objective", "solver", "device", "callbacks")
        }
        return cls(
            objective=objective,
            solver=solver,
            device=device,
            callbacks=tuple(params["callbacks"] or ()),
            **settings,
        )

    def trajectory(self):
        """The settings that determine a gradient fit's trajectory, as plain
        values: what a checkpoint's fingerprint covers."""
        values = {
            field.name: getattr(self, field.name)
            for field in fields(self)
            if field.name not in _NOT_IN_FINGERPRINT
        }
        if isinstance(values["random_state"], np.random.RandomState):
            values["random_state"] = "RandomState"
        values["device"] = str(values["device"])
        return values

    def portable(self):
        """This configuration with the device as its name (for pickles)."""
        return replace(self, device=str(self.device))

    def restored(self):
        """A :meth:`portable` configuration with its device again."""
        return replace(self, device=torch.device(self.device))
