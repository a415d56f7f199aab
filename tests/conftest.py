"""Shared fixtures."""

import pytest
from sklearn.datasets import load_diabetes, load_linnerud

BUNDLED = {
    "diabetes": load_diabetes(return_X_y=True),  # 442 x 10, one target
    "linnerud": load_linnerud(return_X_y=True),  # 20 x 3, three targets
}


@pytest.fixture(params=list(BUNDLED))
def bundled_data(request):
    """(X, y) of each data set bundled with scikit-learn that the tests use."""
    return BUNDLED[request.param]
