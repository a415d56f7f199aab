"""Crash-safe checkpoints of the gradient solvers: resume, refusal, isolation."""

import io
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from skorch.callbacks import Callback

from sktorch_linear import CheckpointError, TorchLinearRegressor
from sktorch_linear._checkpoint import _HEADER, FORMAT, MAGIC, load

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

REPO = Path(__file__).resolve().parents[1]

# Settings of the in-process interruption tests: each fit is still training at
# epoch CRASH_EPOCH (asserted).
CRASH_EPOCH = 5
SOLVER_CASES = {
    "adam": {"solver": "adam", "batch_size": 32, "max_iter": 30},
    "sgd": {"solver": "sgd", "batch_size": 32, "max_iter": 30},
    "lbfgs": {"solver": "lbfgs", "max_iter": 30},
    # Noisy, wide data: the validation R2 peaks at an early epoch, before the
    # crash, and training stops a few epochs after it, so the parameters of the
    # best epoch come from the checkpoint.
    "adam-early-stopping": {
        "solver": "adam",
        "batch_size": 16,
        "lr": 0.02,
        "early_stopping": True,
        "n_iter_no_change": 5,
        "tol": 0.0,
        "max_iter": 100,
    },
}
CASE_DATA = {
    "adam-early-stopping": {"n_samples": 200, "n_features": 60, "noise": 200.0},
}
DEFAULT_DATA = {"n_samples": 300, "n_features": 10, "noise": 10.0}


class SimulatedCrash(RuntimeError):
    """Raised by :class:`CrashAtEpoch` to interrupt a fit."""


class CrashAtEpoch(Callback):
    """Raise :class:`SimulatedCrash` at the end of epoch ``epoch``, before the
    convergence monitor saves it."""

    affects_training = False  # a resumed fit without it is the same fit

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise SimulatedCrash(f"simulated crash at epoch {self.epoch}")


class EpochCounter(Callback):
    """Count the epochs that a fit actually trains."""

    affects_training = False

    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


def _data(n_samples=300, n_features=10, noise=10.0, random_state=0):
    X, y = make_regression(
        n_samples=n_samples,
        n_features=n_features,
        noise=noise,
        random_state=random_state,
    )
    return X.astype(np.float64), y.astype(np.float64)


def _regressor(**params):
    return TorchLinearRegressor(device="cpu", random_state=0, **params)


def _counted(**params):
    """A regressor whose fits count their trained epochs, and the counter."""
    counter = EpochCounter()
    return _regressor(callbacks=[("counter", counter)], **params), counter


def _checkpoint_files(folder):
    return sorted(Path(folder).glob("fit-*.ckpt"))


def _only_checkpoint(folder):
    files = _checkpoint_files(folder)
    assert len(files) == 1, files
    return files[0]


def _key(path):
    """The fingerprint in the name of a checkpoint file."""
    return Path(path).name.removeprefix("fit-").removesuffix(".ckpt")


def _assert_same_fit(reg, ref):
    assert reg.n_iter_ == ref.n_iter_
    assert_array_equal(reg.coef_, ref.coef_)
    assert_array_equal(reg.intercept_, ref.intercept_)
    assert_array_equal(reg.loss_curve_, ref.loss_curve_)


# -- resume after a crash ------------------------------------------------------

# About 0.1 s per epoch: the kill comes after a few of the 40 epochs, long
# before the end, however slowly the subprocess starts.
SIGKILL_DATA = {"n_samples": 10000, "n_features": 20, "noise": 1.0}
SIGKILL_PARAMS = {
    "solver": "adam",
    "batch_size": 64,
    "tol": 0.0,
    "max_iter": 40,
    "device": "cpu",
    "random_state": 0,
}
SIGKILL_SCRIPT = """
import warnings
from sklearn.datasets import make_regression
from sktorch_linear import TorchLinearRegressor

warnings.simplefilter("ignore")
X, y = make_regression(random_state=0, **{data!r})
TorchLinearRegressor(checkpoint={folder!r}, **{params!r}).fit(X, y)
print("finished")
"""


@pytest.mark.slow
def test_fit_killed_by_sigkill_resumes_to_the_uninterrupted_result(tmp_path):
    """Check that a fit killed by SIGKILL mid-training resumes from its last
    complete epoch and ends bit for bit where an uninterrupted fit ends."""
    min_epochs = 3
    script = SIGKILL_SCRIPT.format(
        data=SIGKILL_DATA, folder=str(tmp_path), params=SIGKILL_PARAMS
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (
                "the fit ended before it could be killed: "
                f"{proc.communicate()[1].decode()[-2000:]}"
            )
            assert time.monotonic() < deadline, "no checkpoint appeared"
            files = _checkpoint_files(tmp_path)
            if files:
                state = load(files[0], _key(files[0]))
                if len(state["history"]) >= min_epochs:
                    break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert b"finished" not in stdout

    path = _only_checkpoint(tmp_path)
    state = load(path, _key(path))
    n_done = len(state["history"])
    assert min_epochs <= n_done < SIGKILL_PARAMS["max_iter"]

    X, y = make_regression(random_state=0, **SIGKILL_DATA)
    params = {
        k: v for k, v in SIGKILL_PARAMS.items() if k not in ("device", "random_state")
    }
    resumed, counter = _counted(checkpoint=tmp_path, **params)
    resumed.fit(X, y)
    reference = _regressor(**params).fit(X, y)

    # It resumed: only the epochs after the checkpoint were trained.
    assert counter.epochs_ == resumed.n_iter_ - n_done > 0
    assert_array_equal(
        resumed.loss_curve_[:n_done], [r["train_loss"] for r in state["history"]]
    )
    _assert_same_fit(resumed, reference)
    # The same single file now holds the finished fit.
    assert _only_checkpoint(tmp_path) == path
    assert len(load(path, _key(path))["history"]) == reference.n_iter_


@pytest.mark.parametrize("case", SOLVER_CASES)
def test_fit_interrupted_by_exception_resumes_to_the_uninterrupted_result(
    case, tmp_path
):
    """Check that a fit interrupted by an exception in a callback resumes, with
    the callback removed (callbacks are not in the fingerprint), from its last
    complete epoch and ends bit for bit where an uninterrupted fit ends; with
    early stopping, the validation split and the best epoch survive too."""
    params = SOLVER_CASES[case]
    X, y = _data(**CASE_DATA.get(case, DEFAULT_DATA))
    reference = _regressor(**params).fit(X, y)
    assert reference.n_iter_ > CRASH_EPOCH

    crashing = _regressor(
        checkpoint=tmp_path, callbacks=[CrashAtEpoch(CRASH_EPOCH)], **params
    )
    with pytest.raises(SimulatedCrash, match="simulated crash at epoch 5"):
        crashing.fit(X, y)
    with pytest.raises(NotFittedError):
        crashing.predict(X)
    path = _only_checkpoint(tmp_path)
    state = load(path, _key(path))
    # The crash came before the checkpoint of epoch CRASH_EPOCH was written.
    assert len(state["history"]) == CRASH_EPOCH - 1

    resumed, counter = _counted(checkpoint=tmp_path, **params)
    resumed.fit(X, y)
    assert counter.epochs_ == reference.n_iter_ - (CRASH_EPOCH - 1)
    _assert_same_fit(resumed, reference)
    assert _only_checkpoint(tmp_path) == path

    if params.get("early_stopping"):
        scores = reference.validation_scores_
        best_epoch = int(np.argmax(scores)) + 1
        # The best parameters were recorded before the crash.
        assert best_epoch < CRASH_EPOCH
        assert_array_equal(resumed.validation_scores_, scores)
        assert resumed.best_validation_score_ == reference.best_validation_score_
        assert resumed.score(X, y) == reference.score(X, y)


def test_fit_resumes_after_two_interruptions(tmp_path):
    """Check that a fit interrupted twice resumes from the later checkpoint and
    still ends where an uninterrupted fit ends."""
    params = SOLVER_CASES["adam"]
    X, y = _data()
    reference = _regressor(**params).fit(X, y)
    for epoch in (3, 8):
        crashing = _regressor(
            checkpoint=tmp_path, callbacks=[CrashAtEpoch(epoch)], **params
        )
        with pytest.raises(SimulatedCrash):
            crashing.fit(X, y)
        path = _only_checkpoint(tmp_path)
        assert len(load(path, _key(path))["history"]) == epoch - 1
    resumed, counter = _counted(checkpoint=tmp_path, **params)
    resumed.fit(X, y)
    assert counter.epochs_ == reference.n_iter_ - 7
    _assert_same_fit(resumed, reference)


# -- finished fits, and what is in the fingerprint -----------------------------


@pytest.mark.parametrize(
    "params",
    [
        # Converges before max_iter.
        {"solver": "lbfgs", "max_iter": 50},
        # Stops at max_iter.
        {"solver": "adam", "batch_size": 32, "tol": 0.0, "max_iter": 6},
    ],
)
def test_finished_fit_is_not_trained_again(params, tmp_path):
    """Check that running a finished fit again with the same checkpoint returns
    the same model without training any epoch or rewriting the file."""
    X, y = _data()
    first = _regressor(checkpoint=tmp_path, **params).fit(X, y)
    assert first.n_iter_ < 50 if params["solver"] == "lbfgs" else first.n_iter_ == 6
    path = _only_checkpoint(tmp_path)
    content, mtime = path.read_bytes(), path.stat().st_mtime_ns

    again, counter = _counted(checkpoint=tmp_path, **params)
    again.fit(X, y)
    assert counter.epochs_ == 0
    _assert_same_fit(again, first)
    assert _only_checkpoint(tmp_path) == path
    assert path.read_bytes() == content
    assert path.stat().st_mtime_ns == mtime


def test_larger_max_iter_continues_a_checkpointed_fit(tmp_path):
    """Check that max_iter is not in the fingerprint: a fit stopped by max_iter
    and run again with a larger max_iter trains only the extra epochs and ends
    where a fit with the larger max_iter from the start ends."""
    params = {"solver": "adam", "batch_size": 32, "tol": 0.0}
    X, y = _data()
    _regressor(checkpoint=tmp_path, max_iter=4, **params).fit(X, y)
    path = _only_checkpoint(tmp_path)
    longer, counter = _counted(checkpoint=tmp_path, max_iter=9, **params)
    longer.fit(X, y)
    assert counter.epochs_ == 5
    _assert_same_fit(longer, _regressor(max_iter=9, **params).fit(X, y))
    assert _only_checkpoint(tmp_path) == path


@pytest.mark.parametrize(
    "change", ["alpha", "tol", "random_state", "X", "y", "sample_weight", "dtype"]
)
def test_changed_fit_writes_a_new_file(change, tmp_path):
    """Check that changing a parameter in the fingerprint, the data or the
    sample weights starts a new fit in a new file instead of loading the old
    one."""
    params = {"solver": "adam", "batch_size": 32, "max_iter": 5}
    X, y = _data()
    sample_weight = None
    _regressor(checkpoint=tmp_path, **params).fit(X, y)
    (old,) = _checkpoint_files(tmp_path)
    content = old.read_bytes()

    if change == "alpha":
        params["alpha"] = 0.1
    elif change == "random_state":
        params["random_state"] = 1
    elif change == "tol":
        params["tol"] = 1e-3
    elif change == "X":
        X = X.copy()
        X[0, 0] += 1e-9
    elif change == "y":
        y = y.copy()
        y[-1] += 1e-9
    elif change == "sample_weight":
        sample_weight = np.ones_like(y)
    elif change == "dtype":
        X = X.astype(np.float32)
    counter = EpochCounter()
    reg = TorchLinearRegressor(
        checkpoint=tmp_path,
        device="cpu",
        callbacks=[("counter", counter)],
        **{"random_state": 0, **params},
    )
    reg.fit(X, y, sample_weight=sample_weight)

    assert counter.epochs_ == reg.n_iter_ == 5
    files = _checkpoint_files(tmp_path)
    assert len(files) == 2 and old in files
    assert old.read_bytes() == content
    fresh = clone(reg).set_params(checkpoint=None, callbacks=None)
    _assert_same_fit(reg, fresh.fit(X, y, sample_weight=sample_weight))


@pytest.mark.parametrize(
    "change", [{"verbose": 1}, {"warm_start": True}, {"callbacks": [EpochCounter()]}]
)
def test_parameters_outside_the_fingerprint_share_the_file(change, tmp_path):
    """Check that verbose, warm_start, callbacks and the spelling of the folder
    (str or Path) do not change the file of a fit: the fit with them loads the
    finished checkpoint."""
    params = {"solver": "adam", "batch_size": 32, "max_iter": 5}
    X, y = _data()
    first = _regressor(checkpoint=tmp_path, **params).fit(X, y)
    path = _only_checkpoint(tmp_path)
    other = _regressor(checkpoint=str(tmp_path), **params, **change).fit(X, y)
    assert _only_checkpoint(tmp_path) == path
    _assert_same_fit(other, first)


# -- damaged and foreign files -------------------------------------------------


def _truncate(data):
    return data[: len(data) // 2]


def _flip_payload_byte(data):
    data = bytearray(data)
    start = len(MAGIC) + _HEADER.size
    data[start + (len(data) - start) // 2] ^= 0x01
    return bytes(data)


def _flip_digest_byte(data):
    data = bytearray(data)
    data[len(MAGIC) + _HEADER.size - 1] ^= 0x80
    return bytes(data)


def _random_bytes(data):
    return np.random.default_rng(0).bytes(len(data))


def _torch_dict(data):
    buffer = io.BytesIO()
    torch.save({"module": torch.nn.Linear(3, 1).state_dict(), "key": "x"}, buffer)
    return buffer.getvalue()


def _empty(data):
    return b""


def _header_cut(data):
    return data[: len(MAGIC) + 4]


@pytest.mark.parametrize(
    "damage, message",
    [
        (_truncate, "is damaged .* Delete it"),
        (_flip_payload_byte, "is damaged .* Delete it"),
        (_flip_digest_byte, "is damaged .* Delete it"),
        (_header_cut, "is damaged .* Delete it"),
        (_random_bytes, "is not a sktorch_linear checkpoint. Delete it"),
        (_torch_dict, "is not a sktorch_linear checkpoint. Delete it"),
        (_empty, "is not a sktorch_linear checkpoint. Delete it"),
    ],
)
def test_damaged_or_foreign_file_is_refused(damage, message, tmp_path):
    """Check that a torn or foreign file at a fit's checkpoint path raises
    CheckpointError (a ValueError) saying to delete it, is never loaded or
    changed, and leaves the estimator's earlier fit as it was."""
    params = {"solver": "adam", "batch_size": 32, "max_iter": 3}
    X, y = _data()
    reg = _regressor(checkpoint=tmp_path, **params).fit(X, y)
    before = reg.predict(X)
    path = _only_checkpoint(tmp_path)
    bad = damage(path.read_bytes())
    path.write_bytes(bad)

    with pytest.raises(CheckpointError, match=message):
        reg.fit(X, y)
    assert issubclass(CheckpointError, ValueError)
    assert_array_equal(reg.predict(X), before)
    assert path.read_bytes() == bad
    assert _checkpoint_files(tmp_path) == [path]
    assert sorted(tmp_path.iterdir()) == [path]

    # Deleting the file, as the message says, starts the fit afresh.
    path.unlink()
    reg.fit(X, y)
    _assert_same_fit(reg, _regressor(**params).fit(X, y))


def test_checkpoint_of_another_format_is_refused(tmp_path):
    """Check that an intact checkpoint of another format version is refused
    with a message naming both versions."""
    X, y = _data()
    reg = _regressor(checkpoint=tmp_path, solver="adam", max_iter=2).fit(X, y)
    before = reg.predict(X)
    path = _only_checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(MAGIC)] += 1  # the format number, little-endian
    path.write_bytes(bytes(data))
    expected = f"format {FORMAT + 1}; this version reads format {FORMAT}"
    with pytest.raises(CheckpointError, match=expected):
        reg.fit(X, y)
    assert_array_equal(reg.predict(X), before)  # the earlier fit stands


def test_checkpoint_of_another_fit_is_refused(tmp_path):
    """Check that an intact checkpoint copied to the file name of another fit
    is refused instead of being loaded."""
    X, y = _data()
    params = {"solver": "adam", "batch_size": 32, "max_iter": 3}
    _regressor(checkpoint=tmp_path / "a", **params).fit(X, y)
    _regressor(checkpoint=tmp_path / "b", alpha=1.0, **params).fit(X, y)
    source, target = _only_checkpoint(tmp_path / "a"), _only_checkpoint(tmp_path / "b")
    target.write_bytes(source.read_bytes())
    reg = _regressor(checkpoint=tmp_path / "b", alpha=1.0, **params)
    with pytest.raises(CheckpointError, match="belongs to another fit"):
        reg.fit(X, y)
    with pytest.raises(NotFittedError):
        reg.predict(X)


# -- grid search ---------------------------------------------------------------


# Slow for the start of the worker processes, which import torch.
@pytest.mark.slow
def test_grid_search_fits_never_share_a_file(tmp_path):
    """Check that a parallel grid search writes one distinct file per candidate
    and fold (and one for the refit), and that its results equal those of the
    same search without checkpoints, also when run again on the files."""
    X, y = _data(n_samples=240, n_features=8)
    params = {"solver": "adam", "batch_size": 32, "max_iter": 8}
    alphas = [0.0, 0.1, 1.0]
    cv = KFold(n_splits=3, shuffle=True, random_state=0)

    def search(checkpoint, n_jobs=2):
        return GridSearchCV(
            _regressor(checkpoint=checkpoint, **params),
            {"alpha": alphas},
            cv=cv,
            n_jobs=n_jobs,
        ).fit(X, y)

    plain = search(None, n_jobs=1)
    checkpointed = search(tmp_path)
    files = _checkpoint_files(tmp_path)
    assert len(files) == len(alphas) * cv.get_n_splits() + 1
    assert len({load(f, _key(f))["key"] for f in files}) == len(files)
    # No temporary file is left behind.
    assert sorted(tmp_path.iterdir()) == files
    contents = {f: f.read_bytes() for f in files}

    again = search(tmp_path)
    assert {f: f.read_bytes() for f in _checkpoint_files(tmp_path)} == contents
    for result in (checkpointed, again):
        for name in ("mean_test_score", "split0_test_score", "split2_test_score"):
            assert_array_equal(result.cv_results_[name], plain.cv_results_[name])
        assert result.best_params_ == plain.best_params_
        assert_array_equal(result.best_estimator_.coef_, plain.best_estimator_.coef_)


def test_warm_start_continuation_leaves_the_checkpoint_alone(tmp_path):
    """Check that a warm-started fit on other data does not write into the first
    fit's checkpoint, so a later fresh fit of the first data resumes its own."""
    X1, y1 = _data(n_samples=200, n_features=3, random_state=0)
    X2, y2 = _data(n_samples=200, n_features=3, random_state=1)
    params = {"solver": "adam", "max_iter": 5, "tol": 0.0}
    warm = _regressor(warm_start=True, checkpoint=tmp_path, **params).fit(X1, y1)
    path = _only_checkpoint(tmp_path)
    saved = path.read_bytes()
    warm.fit(X2, y2)
    assert warm.n_iter_ == 10
    assert path.read_bytes() == saved
    again = _regressor(checkpoint=tmp_path, **params).fit(X1, y1)
    _assert_same_fit(again, _regressor(**params).fit(X1, y1))
