"""
Exact solver versus scikit-learn's LinearRegression
====================================================

Fit :class:`~sktorch_linear.TorchLinearRegressor` (the default ``"exact"``
solver) and scikit-learn's :class:`~sklearn.linear_model.LinearRegression` on
the diabetes data bundled with scikit-learn, compare their coefficients, and plot
predicted against true targets for both.
"""

# %%
# Fit both models
# ---------------
# With the default ``alpha=0.0`` both minimise the same least-squares
# objective, so their coefficients agree up to floating-point rounding.
# ``device="cpu"`` keeps the example identical on machines with a GPU.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

from sktorch_linear import TorchLinearRegressor

X, y = load_diabetes(return_X_y=True)
torch_reg = TorchLinearRegressor(device="cpu").fit(X, y)
sklearn_reg = LinearRegression().fit(X, y)

max_diff = np.max(np.abs(torch_reg.coef_ - sklearn_reg.coef_))
print(f"solver used: {torch_reg.solver_} ({torch_reg.solver_path_})")
print(f"max |coefficient difference|: {max_diff:.3g}")
print(f"intercept difference: {abs(torch_reg.intercept_ - sklearn_reg.intercept_):.3g}")

# %%
# Predicted versus true targets
# -----------------------------
# The two panels are indistinguishable: the models make the same predictions.
fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharex=True, sharey=True)
for ax, (name, model) in zip(
    axes,
    [("TorchLinearRegressor", torch_reg), ("LinearRegression", sklearn_reg)],
):
    ax.scatter(y, model.predict(X), s=10, alpha=0.6)
    ax.plot([y.min(), y.max()], [y.min(), y.max()], color="black", linewidth=1)
    ax.set_title(f"{name} (R$^2$ = {model.score(X, y):.3f})")
    ax.set_xlabel("true target")
axes[0].set_ylabel("predicted target")
fig.tight_layout()
plt.show()
