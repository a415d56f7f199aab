"""The fitted model outside the estimator: a plain torch module (to_torch) and
ONNX through skl2onnx, checked with torch.jit, torch.export and onnxruntime."""

import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktorch_linear import TorchLinearRegressor, register_onnx_converter

RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 4)) * [1.0, 10.0, 100.0, 0.1] + 5.0
Y = X @ [1.0, 2.0, 3.0, 4.0] + RNG.normal(size=300)


SOLVERS = [
    {},
    {"solver": "lbfgs"},
    {"solver": "adam", "max_iter": 5},
    {"solver": "sgd", "max_iter": 5},
    {"loss": "huber"},
    {"loss": "quantile", "quantile": [0.2, 0.8]},  # one target, two outputs
]


@pytest.mark.parametrize(
    "params, two_targets",
    [(p, False) for p in SOLVERS] + [(p, True) for p in SOLVERS[:-1]],
)
def test_to_torch_is_predict(params, two_targets):
    """Check that the exported module reproduces predict to 1e-12 (float64)
    for every solver, shape included, and that its TorchScript and
    torch.export versions agree."""
    y = np.c_[Y, -2 * Y] if two_targets else Y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = TorchLinearRegressor(device="cpu", random_state=0, **params).fit(X, y)
    module = reg.to_torch()
    x = torch.as_tensor(X)
    expected = reg.predict(X)
    out = module(x).numpy()
    assert out.shape == expected.shape
    assert_allclose(out, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module)
    rows = torch.export.Dim("rows")  # any number of rows
    exported = torch.export.export(module, (x[:5],), dynamic_shapes=({0: rows},))
    assert_allclose(scripted(x).numpy(), out, rtol=1e-15)
    assert_allclose(exported.module()(x).numpy(), out, rtol=1e-15)
    assert not any(p.requires_grad for p in module.parameters())


def test_to_torch_device_dtype_and_errors():
    """Check the float32 module and the refused arguments."""
    reg = TorchLinearRegressor(device="cpu").fit(X, Y)
    module = reg.to_torch(device="cpu", dtype="float32")
    assert next(module.parameters()).dtype is torch.float32
    out = module(torch.as_tensor(X, dtype=torch.float32)).numpy()
    assert_allclose(out, reg.predict(X), rtol=1e-5)
    with pytest.raises(ValueError, match="dtype must be"):
        reg.to_torch(dtype="float16")


onnxruntime = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")


def _onnx_predict(model, X_, dtype):
    onnx_model = skl2onnx.to_onnx(model, X_[:1].astype(dtype), target_opset=18)
    session = onnxruntime.InferenceSession(
        onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    name = session.get_inputs()[0].name
    return session.run(None, {name: X_.astype(dtype)})[0]


@pytest.mark.parametrize("pipeline", [False, True])
@pytest.mark.parametrize("two_targets", [False, True])
def test_onnx_matches_predict(pipeline, two_targets):
    """Check the ONNX graph of the estimator, alone and after SimpleImputer and
    StandardScaler, one and two targets: float32 within 1e-5 relative of
    predict, float64 within 1e-12 (onnxruntime has no float64 kernel of the
    ONNX-ML Imputer that skl2onnx converts SimpleImputer to: the float64
    pipeline is StandardScaler and the estimator)."""
    register_onnx_converter()
    y = np.c_[Y, -2 * Y] if two_targets else Y
    X_ = X.copy()
    steps = [TorchLinearRegressor(device="cpu")]
    if pipeline:
        X_[[3, 50], 1] = np.nan
        steps = [SimpleImputer(), StandardScaler(), *steps]
    model = make_pipeline(*steps).fit(X_, y)
    expected = model.predict(X_)
    scale = np.abs(expected).max()
    out = _onnx_predict(model, X_, np.float32).reshape(expected.shape)
    assert_allclose(out, expected, rtol=1e-5, atol=1e-5 * scale)
    if pipeline:
        model = make_pipeline(StandardScaler(), TorchLinearRegressor(device="cpu"))
        X_ = X
        expected = model.fit(X_, y).predict(X_)
    out = _onnx_predict(model, X_, np.float64).reshape(expected.shape)
    assert_allclose(out, expected, rtol=1e-12, atol=1e-12 * scale)


def test_pickles_record_the_version():
    """Check that a pickle records the package version: loading it with the
    same version is silent, with another (or none recorded) warns clearly."""
    import pickle

    import sktorch_linear
    from sktorch_linear import InconsistentVersionWarning

    reg = TorchLinearRegressor(device="cpu").fit(X, Y)
    state = reg.__getstate__()
    assert state["_sktorch_linear_version"] == sktorch_linear.__version__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = pickle.loads(pickle.dumps(reg))
    assert_allclose(loaded.predict(X), reg.predict(X), rtol=0)
    for saved in ("0.0.1", None):
        old = dict(state)
        if saved is None:
            del old["_sktorch_linear_version"]
        else:
            old["_sktorch_linear_version"] = saved
        fresh = TorchLinearRegressor.__new__(TorchLinearRegressor)
        with pytest.warns(InconsistentVersionWarning, match="saved by sktorch_linear"):
            fresh.__setstate__(old)
        assert_allclose(fresh.predict(X), reg.predict(X), rtol=0)


def test_onnx_of_several_quantiles():
    """Check the ONNX graph of a fit of several quantiles: one output column
    per quantile, float64 within 1e-12 of predict."""
    register_onnx_converter()
    model = TorchLinearRegressor(
        loss="quantile", quantile=[0.1, 0.5, 0.9], device="cpu"
    )
    expected = model.fit(X, Y).predict(X)
    out = _onnx_predict(model, X, np.float64)
    assert out.shape == expected.shape == (len(X), 3)
    assert_allclose(out, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


# The types a skops file of the estimator holds beyond those skops trusts by
# default (random_state None or an int, no extra callbacks): the package's own.
SKOPS_TYPES = [
    "sktorch_linear._config.Config",
    "sktorch_linear._config.Objective",
    "sktorch_linear._moments.Moments",
    "sktorch_linear._regressor.TorchLinearRegressor",
    "sktorch_linear._scaling.Scaling",
    "sktorch_linear.solvers._base.SolverResult",
]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"solver": "adam", "max_iter": 5, "random_state": 0},
        {"loss": "huber", "solver": "lbfgs"},
        {"loss": "quantile", "quantile": [0.2, 0.8]},
    ],
)
def test_skops_round_trip(params):
    """Check that a skops file holds no torch objects (the untrusted types are
    exactly the package's own) and loads to the same predictions, net and
    ability to continue training."""
    sio = pytest.importorskip("skops.io")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = TorchLinearRegressor(device="cpu", **params).fit(X, Y)
    data = sio.dumps(reg)
    assert sio.get_untrusted_types(data=data) == SKOPS_TYPES
    loaded = sio.loads(data, trusted=SKOPS_TYPES)
    assert_allclose(loaded.predict(X), reg.predict(X), rtol=0)
    assert_allclose(
        loaded.net_.predict(X).reshape(reg.predict(X).shape), reg.predict(X), rtol=1e-12
    )
    if params.get("solver") == "adam":  # the stream goes on as it would have
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reg.partial_fit(X[:100], Y[:100])
            loaded.partial_fit(X[:100], Y[:100])
        assert_allclose(loaded.coef_, reg.coef_, rtol=1e-12)
        assert loaded.n_iter_ == reg.n_iter_


def test_pickled_gradient_fit_continues_as_the_original():
    """Check that a gradient fit pickled mid-stream continues exactly as the
    original would (model, optimizer state, history and shuffling kept as
    NumPy), and that pickling leaves the original untouched."""
    import pickle

    reg = TorchLinearRegressor(solver="adam", device="cpu", random_state=0)
    for rows in np.array_split(np.arange(len(Y)), 3):
        reg.partial_fit(X[rows], Y[rows])
    loaded = pickle.loads(pickle.dumps(reg))
    assert isinstance(reg._config.device, torch.device)
    for model in (reg, loaded):
        model.partial_fit(X[:50], Y[:50])
    assert_allclose(loaded.coef_, reg.coef_, rtol=1e-12)
    assert loaded.loss_curve_ == reg.loss_curve_


def test_onnx_pipeline_with_one_hot_encoder():
    """Check the ONNX graph of a pipeline that imputes and scales numeric
    columns and one-hot encodes a categorical one before the estimator
    (float32 within 1e-5 of predict)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    register_onnx_converter()
    category = RNG.integers(0, 3, size=len(Y)).astype(float)
    X_ = np.c_[X[:, :2], category]
    y = X_[:, 0] + 2 * X_[:, 1] + np.array([0.0, 5.0, -5.0])[category.astype(int)]
    columns = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(), StandardScaler()), [0, 1]),
            ("category", OneHotEncoder(handle_unknown="ignore"), [2]),
        ]
    )
    model = make_pipeline(columns, TorchLinearRegressor(device="cpu")).fit(X_, y)
    expected = model.predict(X_)
    out = _onnx_predict(model, X_, np.float32).reshape(expected.shape)
    assert_allclose(out, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
