"""
Deployment: joblib, skops, ONNX and plain torch
===============================================

A fitted model leaves the notebook by four routes (see the Deployment page);
this example takes each one and checks that the model predicts the same on
the other side.
"""

# %%
# A fitted model
# --------------
import tempfile
from pathlib import Path

import joblib
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_diabetes

from sktorch_linear import TorchLinearRegressor

X, y = load_diabetes(return_X_y=True)
reg = TorchLinearRegressor(device="cpu").fit(X, y)
expected = reg.predict(X)
folder = Path(tempfile.mkdtemp())
routes = {}

# %%
# joblib (pickle)
# ---------------
joblib.dump(reg, folder / "model.joblib")
routes["joblib"] = joblib.load(folder / "model.joblib").predict(X)

# %%
# skops: a file that loads without running code
# ---------------------------------------------
try:
    import skops.io
except ImportError:
    skops = None
if skops is not None:
    skops.io.dump(reg, folder / "model.skops")
    trusted = skops.io.get_untrusted_types(file=folder / "model.skops")
    print("types to trust:", *trusted, sep="\n  ")
    routes["skops"] = skops.io.load(folder / "model.skops", trusted=trusted).predict(X)

# %%
# A plain torch module
# --------------------
module = reg.to_torch(device="cpu")
routes["to_torch"] = module(torch.as_tensor(X)).detach().numpy()
program = torch.export.export(
    module, (torch.as_tensor(X[:5]),), dynamic_shapes=({0: torch.export.Dim("rows")},)
)
routes["torch.export"] = program.module()(torch.as_tensor(X)).detach().numpy()

# %%
# ONNX, run by onnxruntime
# ------------------------
try:
    import onnxruntime
    from skl2onnx import to_onnx
except ImportError:
    onnxruntime = None
if onnxruntime is not None:
    from sktorch_linear import register_onnx_converter

    register_onnx_converter()
    onnx_model = to_onnx(reg, X[:1].astype(np.float32), target_opset=18)
    session = onnxruntime.InferenceSession(onnx_model.SerializeToString())
    name = session.get_inputs()[0].name
    routes["ONNX (float32)"] = session.run(None, {name: X.astype(np.float32)})[0][:, 0]

# %%
# Every route predicts as the fitted model does
# ---------------------------------------------
differences = {
    k: np.max(np.abs(v - expected) / np.abs(expected)) for k, v in routes.items()
}
for route, difference in differences.items():
    print(f"{route:16s} largest relative difference {difference:.1e}")
fig, ax = plt.subplots(figsize=(7, 3))
ax.barh(list(differences), [max(d, 1e-17) for d in differences.values()])
ax.set_xscale("log")
ax.set_xlabel("largest relative difference from predict (0 shown as 1e-17)")
fig.tight_layout()
plt.show()
