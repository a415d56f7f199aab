"""
Linear regression in PyTorch, by hand and with the estimator
============================================================

The steps of a first course on linear regression in PyTorch, then what
:class:`~sktorch_linear.TorchLinearRegressor` does with them: ``y = X @ w +
b``, normalisation computed on the training set, the mean squared error,
gradient descent by autograd, then ``nn.Linear`` with Adam and mini-batches,
then one call to ``fit``, and the exact solution to compare with.
"""

# %%
# Data, split, and normalisation from the training set
# -----------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from sktorch_linear import TorchLinearRegressor

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
mean, std = X_train.mean(0), X_train.std(0)  # from the training set only
Xt = torch.as_tensor((X_train - mean) / std)
yt = torch.as_tensor(y_train)

# %%
# Gradient descent by autograd
# ----------------------------
# ``w`` and ``b`` are leaf tensors; ``loss.backward()`` fills their gradients.
w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
b = torch.zeros((), dtype=torch.float64, requires_grad=True)
by_hand = []
for step in range(300):
    loss = ((Xt @ w + b - yt) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        b -= 0.1 * b.grad
        w.grad.zero_()
        b.grad.zero_()
    by_hand.append(loss.item())

# %%
# ``nn.Linear``, Adam and mini-batches
# ------------------------------------
generator = torch.manual_seed(0)  # the initial weights and the shuffling
linear = torch.nn.Linear(X.shape[1], 1, dtype=torch.float64)
optimizer = torch.optim.Adam(linear.parameters(), lr=0.5)
with_adam = []
for epoch in range(100):
    order = torch.randperm(len(yt))
    for start in range(0, len(yt), 32):
        rows = order[start : start + 32]
        optimizer.zero_grad()
        loss = ((linear(Xt[rows])[:, 0] - yt[rows]) ** 2).mean()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        with_adam.append(((linear(Xt)[:, 0] - yt) ** 2).mean().item())

# %%
# The estimator: the same model, scaling and optimizer inside
# -----------------------------------------------------------
# ``solver="adam"`` trains an ``nn.Linear`` through skorch on standardized data
# and stops when its objective is within ``tol`` of the minimum (it measures
# the distance). ``loss_curve_`` holds its objective per epoch (half the mean
# squared error of the standardized target). The default solver is exact.
adam = TorchLinearRegressor(solver="adam", device="cpu", random_state=0)
adam.fit(X_train, y_train)
exact = TorchLinearRegressor(device="cpu").fit(X_train, y_train)
minimum = np.mean((exact.predict(X_train) - y_train) ** 2)
print(f"training MSE, minimum (exact solver):   {minimum:.2f}")
print(f"gradient descent by hand, 300 steps:    {by_hand[-1]:.2f}")
print(f"nn.Linear + Adam by hand, 100 epochs:   {with_adam[-1]:.2f}")
print(
    f"TorchLinearRegressor(solver='adam'):    "
    f"{np.mean((adam.predict(X_train) - y_train) ** 2):.2f} after {adam.n_iter_} "
    f"epochs, gap {adam.optimality_gap_:.1e}"
)
print(
    f"test R^2: adam {adam.score(X_test, y_test):.4f}, exact "
    f"{exact.score(X_test, y_test):.4f}"
)

# %%
# Training curves
# ---------------
# The hand-written loops log the mean squared error; the estimator's curve is
# converted to the same units (its objective times twice the variance of y).
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.plot(by_hand, label="gradient descent by hand (per step)")
ax.plot(with_adam, label="nn.Linear + Adam by hand (per epoch)")
curve = np.array(adam.loss_curve_) * 2 * y_train.var()
ax.plot(curve, label="TorchLinearRegressor(solver='adam') (per epoch)")
ax.axhline(minimum, color="black", linestyle="--", label="exact minimum")
ax.set_yscale("log")
ax.set_xlabel("step or epoch")
ax.set_ylabel("training mean squared error")
ax.legend()
fig.tight_layout()
plt.show()
