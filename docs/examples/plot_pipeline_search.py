"""
A pipeline step under a grid search
===================================

:class:`~sktorch_linear.TorchLinearRegressor` is an ordinary scikit-learn
estimator: here it follows an imputer in a
:class:`~sklearn.pipeline.Pipeline`, and
:class:`~sklearn.model_selection.GridSearchCV` tunes its penalty with
sample weights routed to it.
"""

# %%
# Missing values, a pipeline and a grid
# -------------------------------------
import matplotlib.pyplot as plt
import numpy as np
import sklearn
from sklearn.datasets import load_diabetes
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sktorch_linear import TorchLinearRegressor

sklearn.set_config(enable_metadata_routing=True)
X, y = load_diabetes(return_X_y=True)
rng = np.random.default_rng(0)
X[rng.random(X.shape) < 0.05] = np.nan  # 5% of the values missing
weights = rng.uniform(0.5, 2.0, len(y))

model = TorchLinearRegressor(device="cpu").set_fit_request(sample_weight=True)
pipeline = make_pipeline(SimpleImputer(), model)
grid = {
    "torchlinearregressor__alpha": np.logspace(-4, 0, 9),
    "torchlinearregressor__l1_ratio": [0.0, 0.5, 1.0],
}
search = GridSearchCV(pipeline, grid, cv=5).fit(X, y, sample_weight=weights)
print("best parameters:", search.best_params_)
print(f"best cross-validated R^2: {search.best_score_:.4f}")

# %%
# The score along the penalty
# ---------------------------
results = search.cv_results_
fig, ax = plt.subplots(figsize=(7, 4.5))
for l1_ratio in grid["torchlinearregressor__l1_ratio"]:
    rows = results["param_torchlinearregressor__l1_ratio"] == l1_ratio
    ax.semilogx(
        np.asarray(results["param_torchlinearregressor__alpha"][rows], float),
        results["mean_test_score"][rows],
        "o-",
        label=f"l1_ratio={l1_ratio}",
    )
ax.set_xlabel("alpha")
ax.set_ylabel("mean cross-validated R$^2$")
ax.legend()
fig.tight_layout()
plt.show()
sklearn.set_config(enable_metadata_routing=False)
