"""The settings of a run, the problem sizes and the data shared between workloads."""

from dataclasses import dataclass, field

from sklearn.linear_model import LinearRegression

from sktorch_linear import TorchLinearRegressor

from .._common import HEAVY, linear_data, measure

# Contender names that several workloads share.
OURS = "TorchLinearRegressor exact"
FLOOR = "floor: torch X.T@X"

SIZES = {
    "full": {
        "repeats": 5,
        "sweep": [10_000, 30_000, 100_000, 300_000],
        "tall": (1_000_000, 100),
        "wide": (100_000, 1_000),
        "diabetes_repeats": 200,
        "epoch": (200_000, 50),
        "one_row_calls": 2_000,
        "memory": (1_000_000, 100),
        "chunks": 10,
        "accuracy": (200_000, 100),
        "ill_conditioned": (1_000_000, 100),
        # Sizes of the quantile workload; HiGHS runs in-process up to
        # quantile_in_process rows and with a time limit beyond.
        "quantile": [(20_000, 50), (200_000, 100)],
        "huber": (200_000, 100),
        "cv_robust": (20_000, 50),
        "lasso": (5_000, 1_000),
        # Rows, columns and files of the parquet data set read through Dask.
        "dask": (10_000_000, 20, 40),
        "quantile_in_process": 20_000,
        "highs_limit_s": 300,
    },
    "quick": {
        "repeats": 3,
        "sweep": [3_000, 10_000, 30_000],
        "tall": (100_000, 100),
        "wide": (5_000, 1_000),
        "diabetes_repeats": 50,
        "epoch": (20_000, 50),
        "one_row_calls": 500,
        "memory": (100_000, 100),
        "chunks": 10,
        "accuracy": (20_000, 100),
        "ill_conditioned": (100_000, 100),
        "quantile": [(2_000, 20), (20_000, 50)],
        "huber": (20_000, 50),
        "cv_robust": (5_000, 20),
        "lasso": (1_000, 300),
        "dask": (200_000, 20, 4),
        "quantile_in_process": 2_000,
        "highs_limit_s": 0,
    },
}


@dataclass
class Context:
    """Settings of a run and data shared between workloads."""

    device: str
    quick: bool = False
    repeats: int | None = None
    seed: int = 0
    log: object = print
    overrides: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)

    @property
    def sizes(self):
        return {**SIZES["quick" if self.quick else "full"], **self.overrides}

    def measure(self, calls, repeats=None, **kwargs):
        """:func:`measure` with this run's device, repeats and heavy-call cap."""
        kwargs.setdefault("device", self.device)
        kwargs.setdefault("heavy", HEAVY["quick" if self.quick else "full"])
        return measure(calls, self.n_repeats if repeats is None else repeats, **kwargs)

    @property
    def n_repeats(self):
        return self.repeats if self.repeats is not None else self.sizes["repeats"]

    def tall(self):
        """The tall float64 data set (1 000 000 x 100 in full mode)."""
        if "tall" not in self.cache:
            n, p = self.sizes["tall"]
            self.log(f"  generating {n} x {p} float64 data")
            self.cache["tall"] = linear_data(n, p, seed=self.seed)
        return self.cache["tall"]

    def tall_models(self):
        """TorchLinearRegressor and LinearRegression fitted on :meth:`tall`."""
        if "tall_models" not in self.cache:
            X, y = self.tall()
            self.cache["tall_models"] = {
                OURS: TorchLinearRegressor(device=self.device).fit(X, y),
                "LinearRegression": LinearRegression().fit(X, y),
            }
        return self.cache["tall_models"]

    def release(self, keep):
        """Drop cached data that no remaining workload uses."""
        if "tall" not in keep:
            self.cache.pop("tall", None)
            self.cache.pop("tall_models", None)


def regressor(ctx, **params):
    """A :class:`TorchLinearRegressor` on the run's device.

    Parameters
    ----------
    ctx : Context
        The run.
    **params
        Other parameters of the estimator.

    Returns
    -------
    TorchLinearRegressor
        The unfitted estimator.
    """
    return TorchLinearRegressor(device=ctx.device, **params)
