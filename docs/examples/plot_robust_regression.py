"""
Robust regression: Huber's loss and quantiles
==============================================

Least squares follows outliers; Huber's loss (with its scale, as
scikit-learn's :class:`~sklearn.linear_model.HuberRegressor`) and the median
do not, and several quantiles fitted together draw a prediction band. Every
fit here is exact: the solver certifies its optimum (``optimality_gap_``).
"""

# %%
# Data with outliers
# ------------------
# A line with heavy-tailed noise, and 5% of the targets pushed far up.
import matplotlib.pyplot as plt
import numpy as np

from sktorch_linear import TorchLinearRegressor

rng = np.random.default_rng(0)
x = rng.uniform(0, 10, 300)
y = 2.0 * x + 1.0 + rng.standard_t(3, size=x.size)
outliers = rng.choice(x.size, 15, replace=False)
y[outliers] += rng.uniform(20, 40, outliers.size)
X = x[:, None]

# %%
# Least squares, Huber and the median
# -----------------------------------
# ``solver="auto"`` picks the exact solver for every loss: Cholesky for least
# squares, Newton's method for Huber, an interior-point method for quantiles.
models = {
    "least squares": TorchLinearRegressor(device="cpu"),
    "Huber (epsilon=1.35)": TorchLinearRegressor(loss="huber", device="cpu"),
    "median": TorchLinearRegressor(loss="quantile", quantile=0.5, device="cpu"),
}
for name, model in models.items():
    model.fit(X, y)
    gap = model.optimality_gap_
    print(
        f"{name:22s} slope {model.coef_[0]:.3f}  intercept {model.intercept_:.3f}"
        + ("" if gap is None else f"  certified gap {gap:.1e}")
    )
huber = models["Huber (epsilon=1.35)"]
print(
    f"Huber scale {huber.scale_:.3f}, {huber.outliers_.sum()} rows flagged as outliers"
)

# %%
# A prediction band from three quantiles
# --------------------------------------
# ``quantile=[0.1, 0.5, 0.9]`` fits the three in one call (one column of
# ``predict`` each); about 80% of the points lie between the outer two.
band = TorchLinearRegressor(loss="quantile", quantile=[0.1, 0.5, 0.9], device="cpu")
band.fit(X, y)
grid = np.linspace(0, 10, 50)[:, None]
low, middle, high = band.predict(grid).T
inside = np.mean((band.predict(X)[:, 0] <= y) & (y <= band.predict(X)[:, 2]))
print(f"share of the points inside the 10%-90% band: {inside:.2f}")

fig, ax = plt.subplots(figsize=(7, 4.5))
ax.scatter(x, y, s=8, color="grey", alpha=0.6, label="data")
ax.fill_between(grid[:, 0], low, high, alpha=0.2, label="10%-90% quantiles")
for name, model in models.items():
    ax.plot(grid[:, 0], model.predict(grid), linewidth=2, label=name)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend()
fig.tight_layout()
plt.show()
