"""
Streaming with ``partial_fit``
==============================

Data that arrive in chunks (or do not fit in memory) are fitted one chunk at a
time. With the exact solver each call merges the chunk's sufficient
statistics into those of the chunks before it, so after the last chunk the
coefficients are those of ``fit`` on all the data; Adam instead runs one epoch
per chunk and approaches them.
"""

# %%
# Chunks of a data set
# --------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_regression

from sktorch_linear import TorchLinearRegressor

X, y = make_regression(n_samples=20_000, n_features=20, noise=5.0, random_state=0)
chunks = np.array_split(np.arange(len(y)), 20)
full = TorchLinearRegressor(device="cpu").fit(X, y)

# %%
# Exact statistics, merged chunk by chunk
# ---------------------------------------
exact = TorchLinearRegressor(device="cpu")
adam = TorchLinearRegressor(solver="adam", device="cpu", random_state=0)
exact_error, adam_error = [], []
for rows in chunks:
    exact.partial_fit(X[rows], y[rows])
    adam.partial_fit(X[rows], y[rows])
    exact_error.append(np.max(np.abs(exact.coef_ - full.coef_)))
    adam_error.append(np.max(np.abs(adam.coef_ - full.coef_)))
print(f"after {len(chunks)} chunks, largest coefficient difference from fit():")
print(f"  exact statistics: {exact_error[-1]:.2e}")
print(f"  Adam, one epoch per chunk: {adam_error[-1]:.2e}")

# %%
# Distance to the coefficients of ``fit`` on all the data
# -------------------------------------------------------
# The exact solver's coefficients after ``k`` chunks are those of the first
# ``k`` chunks: they settle on ``fit``'s as the chunks accumulate, and equal
# them (to rounding) at the end.
fig, ax = plt.subplots(figsize=(7, 4.5))
steps = np.arange(1, len(chunks) + 1)
ax.semilogy(steps, np.maximum(exact_error, 1e-16), "o-", label="exact statistics")
ax.semilogy(steps, adam_error, "s-", label="Adam, one epoch per chunk")
ax.set_xlabel("chunks seen")
ax.set_ylabel("max |coef - coef of fit()|")
ax.legend()
fig.tight_layout()
plt.show()
