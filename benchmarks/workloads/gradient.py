"""One epoch of Adam: ours against a hand-written torch loop and plain skorch."""

import statistics

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch import NeuralNetRegressor

from .._common import linear_data, quiet_warnings
from ._context import regressor
from ._rows import faster, headline, ratio, row

LOOP = "hand-written torch loop (Adam, batch 256)"
NAMES = {
    "ours": "TorchLinearRegressor adam (batch 256, 1 epoch)",
    "ours5": "TorchLinearRegressor adam (batch 256, 5 epochs)",
    "skorch": "skorch NeuralNetRegressor defaults (SGD, batch 128)",
    "skorch256": "skorch NeuralNetRegressor (SGD, batch_size=256)",
}


def _hand_loop(X, y, device, *, batch_size=256, lr=1e-3, seed=0):
    """The floor of a mini-batch epoch: nn.Linear + Adam over slices of tensors
    already on the device (rows permuted once, as TorchLinearRegressor does)."""
    n, p = X.shape
    generator = torch.Generator().manual_seed(seed)

    def epoch():
        model = torch.nn.Linear(p, 1, device=device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        order = torch.randperm(n, generator=generator).to(device)
        xs, ys = X[order], y[order]
        for start in range(0, n, batch_size):
            optimizer.zero_grad()
            xb, yb = xs[start : start + batch_size], ys[start : start + batch_size]
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            optimizer.step()
        return model

    return epoch


def _ours(ctx, X, y, epochs):
    def fit():
        with quiet_warnings(ConvergenceWarning):
            regressor(
                ctx,
                solver="adam",
                batch_size=256,
                max_iter=epochs,
                tol=0,
                random_state=0,
            ).fit(X, y)

    return fit


def _skorch(ctx, X, y2d, **params):
    def fit():
        NeuralNetRegressor(
            torch.nn.Linear(X.shape[1], 1),
            train_split=None,
            verbose=0,
            max_epochs=1,
            device=ctx.device,
            **params,
        ).fit(X, y2d)

    return fit


def _calls(ctx, X, y):
    """The contenders' calls on float32 ``X`` and ``y``, the loop's first."""
    x_t = torch.from_numpy(X).to(ctx.device)
    y_t = torch.from_numpy(y).reshape(-1, 1).to(ctx.device)
    y2d = y.reshape(-1, 1)
    return {
        LOOP: _hand_loop(x_t, y_t, ctx.device),
        NAMES["ours"]: _ours(ctx, X, y, 1),
        NAMES["ours5"]: _ours(ctx, X, y, 5),
        NAMES["skorch"]: _skorch(ctx, X, y2d),
        NAMES["skorch256"]: _skorch(ctx, X, y2d, batch_size=256),
    }


def _rows(ctx, times, n, p):
    """A row per contender, with its batches and time per batch in the note."""
    batches = {
        LOOP: -(-n // 256),
        NAMES["ours"]: -(-n // 256),
        NAMES["ours5"]: 5 * -(-n // 256),
        NAMES["skorch"]: -(-n // 128),
        NAMES["skorch256"]: -(-n // 256),
    }
    return [
        row(
            "adam_epoch",
            name,
            times[name],
            n=n,
            p=p,
            ctx=ctx,
            dtype="float32",
            reference=name == LOOP,
            note=f"{batches[name]} batches; "
            f"{statistics.median(times[name]) / batches[name] * 1e6:.0f} us/batch",
        )
        for name in times
    ]


def _headlines(times):
    ours_loop = ratio(times, NAMES["ours"], LOOP)
    # An epoch of a longer fit, without the once-per-fit setup (validation,
    # scaling statistics, the standardized copy, building the net).
    per_epoch = (
        statistics.median(times[NAMES["ours5"]])
        - statistics.median(times[NAMES["ours"]])
    ) / 4
    epoch_loop = per_epoch / statistics.median(times[LOOP])
    skorch_ours = ratio(times, NAMES["skorch"], NAMES["ours"])
    skorch256_ours = ratio(times, NAMES["skorch256"], NAMES["ours"])
    return [
        headline(
            "adam_epoch",
            "ours / hand-written loop",
            ours_loop,
            f"a 1-epoch fit (setup included) takes {ours_loop:.2f}x the time of the "
            "bare torch loop's epoch",
        ),
        headline(
            "adam_epoch",
            "ours per epoch ((5-epoch fit - 1-epoch fit) / 4) / hand-written loop",
            epoch_loop,
            f"an epoch of ours takes {epoch_loop:.2f}x the bare torch loop's epoch "
            f"({per_epoch * 1e3:.0f} ms)",
        ),
        headline(
            "adam_epoch",
            "plain skorch (defaults) / ours",
            skorch_ours,
            faster(skorch_ours, "ours", "plain skorch (batch 128)"),
        ),
        headline(
            "adam_epoch",
            "plain skorch (batch 256) / ours",
            skorch256_ours,
            faster(skorch256_ours, "ours", "plain skorch at the same batch size"),
        ),
    ]


def adam_epoch(ctx):
    """One epoch of Adam, batch 256, float32 (200 000 x 50)."""
    n, p = ctx.sizes["epoch"]
    X, y = linear_data(n, p, dtype=np.float32, seed=ctx.seed)
    times = ctx.measure(_calls(ctx, X, y))
    return _rows(ctx, times, n, p), _headlines(times)
