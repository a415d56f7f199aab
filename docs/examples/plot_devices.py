"""
Devices and dtypes
==================

``device="auto"`` computes on a CUDA GPU when there is one, else on Apple's
MPS, else on the CPU; ``device_`` says which was used. The fitted state is
NumPy, so a model fitted on a GPU predicts anywhere. float32 input trains the
gradient solvers in float32; the exact solver accumulates in float64 whatever
the input.
"""

# %%
# What this machine offers
# ------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import make_regression

from sktorch_linear import TorchLinearRegressor

devices = ["cpu"]
if torch.cuda.is_available():
    devices.append("cuda")
if torch.backends.mps.is_available():
    devices.append("mps")
print("devices available here:", devices)
print(
    "device='auto' picks:", TorchLinearRegressor().fit([[0.0], [1.0]], [0, 1]).device_
)

# %%
# The same fit on every device, in float64 and float32
# ----------------------------------------------------
X, y = make_regression(n_samples=200_000, n_features=50, noise=1.0, random_state=0)
reference = TorchLinearRegressor(device="cpu").fit(X, y)
timings = {}
for device in devices:
    for dtype in (np.float64, np.float32):
        start = time.perf_counter()
        reg = TorchLinearRegressor(device=device).fit(X.astype(dtype), y)
        timings[f"{device}, {np.dtype(dtype).name}"] = time.perf_counter() - start
        difference = np.max(np.abs(reg.coef_ - reference.coef_))
        print(
            f"{device:5s} {np.dtype(dtype).name}: fitted on {reg.device_}, "
            f"max |coef difference| {difference:.1e}"
        )

# %%
# Fit time per device and dtype
# -----------------------------
# One run each, on whatever machine built this page (the benchmarks measure
# properly: ``make bench``).
fig, ax = plt.subplots(figsize=(7, 3))
ax.barh(list(timings), list(timings.values()))
ax.set_xlabel("seconds for one exact fit of 200 000 x 50")
fig.tight_layout()
plt.show()
