"""The package's version, and the warning for a model saved by another."""

__version__ = "0.1.0"


class InconsistentVersionWarning(UserWarning):
    """A model was saved (pickle, joblib, skops) by another version of
    sktorch_linear than the one loading it: its internal state may differ, so
    it may fail or predict differently. Refit it, or load it with the version
    it was saved with (``original_version``)."""

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
