"""The gradient solvers' skorch callbacks, one job each, on a minimal net."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback
from skorch.history import History

from sktorch_linear import TorchLinearRegressor
from sktorch_linear._module import LinearModule
from sktorch_linear.solvers._callbacks import (
    ConvergenceCheck,
    DivergenceGuard,
    KeepBest,
    Proximal,
    Stall,
)


def _net(lr=1.0, optimizer=torch.optim.SGD, l1=0.0):
    module = LinearModule(3, 1, l1=l1, dtype=torch.float64)
    return SimpleNamespace(
        history=History(),
        module_=module,
        optimizer_=optimizer(module.parameters(), lr=lr),
    )


def _epoch(net, callback, **record):
    net.history.new_epoch()
    net.history.record("epoch", len(net.history))
    for key, value in record.items():
        net.history.record(key, value)
    callback.on_epoch_end(net)


def test_convergence_check_decays_the_learning_rate_then_stops():
    """Check that a stall of n_iter_no_change epochs without an improvement of
    tol divides the learning rate by 10, MAX_LR_DECAYS times, then converges
    (no optimality gap measured); that the
    decision is recorded per epoch and acted on at the start of the next."""
    net = _net(lr=1.0)
    check = ConvergenceCheck(
        tol=0.1, n_iter_no_change=2, decay_lr=True, validating=False
    )
    check.initialize()
    _epoch(net, check, train_loss=1.0)
    _epoch(net, check, train_loss=0.5)  # improves by more than tol
    lrs = []
    while not check.converged_:
        check.on_epoch_begin(net)
        _epoch(net, check, train_loss=0.45)  # never by more than tol again
        lrs.append(net.optimizer_.param_groups[0]["lr"])
    # Two epochs per learning rate (the stall of n_iter_no_change=2), the last
    # one's second stall converging.
    decays = Stall.MAX_LR_DECAYS
    expected = [1.0] + [0.1**k for k in range(1, decays + 1) for _ in (0, 1)]
    assert lrs == pytest.approx(expected + [0.1**decays])
    assert net.history[:, "converged"] == [False] * (len(lrs) + 1) + [True]
    with pytest.raises(KeyboardInterrupt):
        check.on_epoch_begin(net)


def test_convergence_check_without_decay_or_disabled():
    """Check that L-BFGS (no decay) converges at its first stall, and that a
    disabled check (partial_fit) never converges."""
    for enabled, expected in [(True, True), (False, False)]:
        net = _net()
        check = ConvergenceCheck(
            0.1, 3, decay_lr=False, validating=False, enabled=enabled
        )
        check.initialize()
        for _ in range(4):
            _epoch(net, check, train_loss=1.0)
        assert check.converged_ is expected
        assert net.optimizer_.param_groups[0]["lr"] == 1.0


def test_convergence_check_watches_the_validation_score_and_resumes():
    """Check that with validation the metric is the held-out R², and that a
    check loaded from another's state continues as the other would."""
    net = _net()
    check = ConvergenceCheck(0.01, 2, decay_lr=True, validating=True)
    check.initialize()
    _epoch(net, check, train_loss=1.0, valid_r2=0.5)
    _epoch(net, check, train_loss=0.1, valid_r2=0.505)  # the loss is not the metric
    copy = ConvergenceCheck(0.01, 2, decay_lr=True, validating=True).initialize()
    copy.load_state_dict(check.state_dict())
    _epoch(net, check, train_loss=0.01, valid_r2=0.505)
    assert check.converged_ and not copy.converged_  # no decay when validating
    _epoch(net, copy, train_loss=0.01, valid_r2=0.505)
    assert copy.converged_


def test_keep_best_restores_the_best_epoch():
    """Check that the parameters of the epoch with the best validation R² are
    loaded when training ends."""
    net = _net()
    keep = KeepBest().initialize()
    weight = net.module_.linear.weight
    for value, score in [(1.0, 0.3), (2.0, 0.9), (3.0, 0.5)]:
        with torch.no_grad():
            weight.fill_(value)
        _epoch(net, keep, valid_r2=score)
    keep.on_train_end(net)
    assert torch.all(weight == 2.0)


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), 2e4])
def test_divergence_guard_refuses_divergence(loss):
    """Check that a non-finite loss, or one 1e4 times the loss at zero, raises
    an error that says what to do; a normal loss does not."""
    guard = DivergenceGuard(initial_loss=1.0, lr=0.5)
    net = _net()
    _epoch(net, guard, train_loss=0.9)
    with pytest.raises(FloatingPointError, match=r"diverged \(lr=0.5\). Lower lr"):
        _epoch(net, guard, train_loss=loss)


def test_l1_proximal_soft_thresholds_by_the_step():
    """Check that after an SGD step the weights are soft-thresholded by lr * l1,
    small ones to exact zeros, and that evaluation batches are left alone."""
    net = _net(lr=0.5, l1=0.2)
    with torch.no_grad():
        net.module_.linear.weight.copy_(torch.tensor([[1.0, -0.05, -2.0]]))
    Proximal().on_batch_end(net, training=False)
    assert_allclose(net.module_.linear.weight.detach().numpy(), [[1.0, -0.05, -2.0]])
    Proximal().on_batch_end(net, training=True)
    assert_allclose(net.module_.linear.weight.detach().numpy(), [[0.9, 0.0, -1.9]])


def test_proximal_l2_divides_by_one_plus_the_step():
    """Check that with the L2 penalty applied proximally the weights are
    soft-thresholded, then divided by 1 + lr * l2 (stable at any strength), and
    that the L2 part of the penalty then adds no gradient."""
    net = _net(lr=0.5, l1=0.2)
    module = net.module_
    module.proximal_l2 = True
    module.l2 = torch.full((1,), 1e8, dtype=torch.float64)
    module.penalised = True
    with torch.no_grad():
        module.linear.weight.copy_(torch.tensor([[1.0, -0.05, -2.0]]))
    assert not module.penalty().requires_grad
    Proximal().on_batch_end(net, training=True)
    expected = np.array([[0.9, 0.0, -1.9]]) / (1 + 0.5 * 1e8)
    assert_allclose(module.linear.weight.detach().numpy(), expected, rtol=1e-6)


class _Named(Callback):
    pass


def test_callbacks_are_configured_at_construction_in_order(tmp_path):
    """Check the callbacks of a fitted net: the user's first, then the package's
    in the order they judge, save and show an epoch."""
    reg = TorchLinearRegressor(
        solver="adam",
        alpha=0.01,
        l1_ratio=0.5,
        early_stopping=True,
        checkpoint=tmp_path,
        callbacks=[("mine", _Named())],
        verbose=1,
        max_iter=3,
        device="cpu",
    )
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, X.sum(axis=1))
    names = [name for name, _ in reg.net_.callbacks_]
    assert names[names.index("mine") :] == [
        "mine",
        "proximal",
        "validation",
        "divergence",
        "convergence",
        "keep_best",
        "checkpoint",
        "progress",
    ]
