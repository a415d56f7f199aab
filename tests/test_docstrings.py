"""Docstrings of TorchLinearRegressor: numpydoc sections match the code."""

import functools
import warnings

import numpy as np
import pytest
from sklearn.utils._testing import check_docstring_parameters

import sktorch_linear
from sktorch_linear import TorchLinearRegressor

docscrape = pytest.importorskip("numpydoc.docscrape")

PUBLIC_METHODS = [
    "fit",
    "partial_fit",
    "predict",
    "summary",
    "to_torch",
    "score",
    "get_params",
    "set_params",
]
# Ours, each with an Examples section that the doctests run.
OWN_METHODS = ["fit", "partial_fit", "predict", "summary", "to_torch"]


def _as_checked_by_sklearn(func):
    """Return ``func`` under a name that ``check_docstring_parameters`` checks.

    ``check_docstring_parameters`` returns no error, without looking, for any
    function whose qualified name does not start with ``"sklearn."``: it would
    silently pass everything defined in ``sktorch_linear``. The wrapper keeps
    the docstring and (through ``__wrapped__``) the signature of ``func``.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    wrapper.__module__ = "sklearn.utils"
    return wrapper


def _fitted_attributes(estimator):
    """Public names ending in ``_`` available on the estimator (attributes, and
    properties computed from them, such as ``rank_``)."""
    return sorted(
        name
        for name in dir(estimator)
        if name.endswith("_") and not name.startswith("_") and hasattr(estimator, name)
    )


def test_check_docstring_parameters_sees_mismatches():
    """Check that the docstring check is not vacuous for functions of this
    package: a docstring missing a parameter is reported."""

    def incomplete(a, b):
        """Add.

        Parameters
        ----------
        a : int
            First.
        """

    assert check_docstring_parameters(_as_checked_by_sklearn(incomplete)) != []


def test_class_docstring_parameters_match_signature():
    """Check that the class docstring's Parameters section lists the parameters
    of ``__init__``, in order."""
    doc = docscrape.ClassDoc(TorchLinearRegressor)
    init = _as_checked_by_sklearn(TorchLinearRegressor.__init__)
    assert check_docstring_parameters(init, doc=doc) == []


@pytest.mark.parametrize("name", PUBLIC_METHODS)
def test_method_docstring_parameters_match_signature(name):
    """Check that each public method has a numpydoc docstring whose Parameters
    section matches its signature."""
    method = getattr(TorchLinearRegressor, name)
    assert method.__doc__, f"{name} has no docstring"
    assert check_docstring_parameters(_as_checked_by_sklearn(method)) == []


def test_class_docstring_documents_every_parameter():
    """Check that every parameter of ``get_params()`` is documented in the class
    docstring, and nothing else is."""
    doc = docscrape.NumpyDocString(TorchLinearRegressor.__doc__)
    documented = {parameter.name for parameter in doc["Parameters"]}
    assert documented == set(TorchLinearRegressor().get_params())


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "exact"},
        {"solver": "lbfgs"},
        {"solver": "adam", "max_iter": 3},
        {"solver": "sgd", "max_iter": 3},
    ],
    ids=lambda params: params["solver"],
)
@pytest.mark.parametrize("with_names", [False, True], ids=["ndarray", "dataframe"])
def test_class_docstring_documents_every_fitted_attribute(params, with_names):
    """Check that every public fitted attribute (ending in ``_``) that exists
    after ``fit`` is listed in the Attributes section of the class docstring."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=20)
    if with_names:
        pd = pytest.importorskip("pandas")
        X = pd.DataFrame(X, columns=["a", "b", "c"])
    with warnings.catch_warnings():
        # max_iter=3 is too short to converge; only the attributes matter here.
        warnings.simplefilter("ignore")
        fitted = TorchLinearRegressor(device="cpu", random_state=0, **params).fit(X, y)

    doc = docscrape.NumpyDocString(TorchLinearRegressor.__doc__)
    documented = {attribute.name for attribute in doc["Attributes"]}
    undocumented = set(_fitted_attributes(fitted)) - documented
    assert not undocumented, f"undocumented fitted attributes: {undocumented}"
    if with_names:
        assert "feature_names_in_" in _fitted_attributes(fitted)


def test_documented_attributes_exist_after_fit():
    """Check that every attribute in the Attributes section exists after some
    fit (``feature_names_in_`` only with string column names)."""
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.arange(12.0).reshape(6, 2) ** 2, columns=["a", "b"])
    y = np.arange(6.0)
    fitted = TorchLinearRegressor(device="cpu").fit(X, y)
    huber = TorchLinearRegressor(loss="huber", device="cpu").fit(X, y)

    doc = docscrape.NumpyDocString(TorchLinearRegressor.__doc__)
    documented = {attribute.name for attribute in doc["Attributes"]}
    # scale_ and outliers_ belong to the Huber loss
    assert documented <= set(_fitted_attributes(fitted)) | {"scale_", "outliers_"}
    assert {"scale_", "outliers_"} <= set(_fitted_attributes(huber))


@pytest.mark.parametrize(
    "obj",
    [getattr(sktorch_linear, name) for name in sktorch_linear.__all__ if name[0] != "_"]
    + [getattr(TorchLinearRegressor, name) for name in OWN_METHODS],
    ids=lambda obj: obj.__qualname__,
)
def test_public_docstrings_have_examples(obj):
    """Check that every public name of the package and every method of ours
    has a numpydoc Examples section with runnable code (``--doctest-modules``
    runs it)."""
    doc = docscrape.NumpyDocString(obj.__doc__)
    assert any(line.lstrip().startswith(">>>") for line in doc["Examples"])
