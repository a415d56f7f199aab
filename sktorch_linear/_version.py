"""The package's version, and the warning for a model saved by another."""

__version__ = "0.1.0"


class InconsistentVersionWarning(UserWarning):
    """A model was saved (pickle, joblib, skops) by another version of
    sktorch_linear than the one loading it: its internal state may differ, so
    it may fail or predict differently. Refit it, or load it with the version
    it was saved with (``original_version``).

    Examples
    --------
    >>> import warnings
    >>> from sktorch_linear import InconsistentVersionWarning, TorchLinearRegressor
    >>> reg = TorchLinearRegressor(device="cpu").fit([[0.0], [1.0]], [0.0, 1.0])
    >>> state = reg.__getstate__()  # what a pickle holds
    >>> state["_sktorch_linear_version"] = "0.0.1"  # as if saved by 0.0.1
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     TorchLinearRegressor.__new__(TorchLinearRegressor).__setstate__(state)
    >>> caught[0].category is InconsistentVersionWarning
    True
    >>> caught[0].message.original_version
    '0.0.1'
    """

    def __init__(self, *, estimator_name, original_version, current_version):
        self.estimator_name = estimator_name
        self.original_version = original_version
        self.current_version = current_version

    def __str__(self):
        saved = self.original_version or "an unknown version (before 0.2)"
        return (
            f"Loading {self.estimator_name} saved by sktorch_linear {saved} with "
            f"sktorch_linear {self.current_version}: the model may fail or give "
            "other results. Refit it with this version, or load it with the "
            "version it was saved with."
        )
