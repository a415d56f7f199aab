"""
Tuning the penalty in one pass
==============================

:class:`~sktorch_linear.TorchLinearRegressorCV` cross-validates a grid of
elastic-net penalties from the statistics of the folds: one pass over the
data, every candidate of every split solved from merged statistics, held-out
R² from the test rows' statistics. Here it tunes ``alpha`` and ``l1_ratio`` on
diabetes, draws the cross-validation curve, and gives the scores that
``GridSearchCV`` over :class:`~sktorch_linear.TorchLinearRegressor` gives for
the same folds and candidates, a fit per candidate and split.
"""

# %%
# The search
# ----------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GridSearchCV, KFold

from sktorch_linear import TorchLinearRegressor, TorchLinearRegressorCV

X, y = load_diabetes(return_X_y=True)
folds = KFold(5, shuffle=True, random_state=0)

start = time.perf_counter()
search = TorchLinearRegressorCV(
    alphas=30, l1_ratio=[0.1, 0.5, 1.0], cv=folds, device="cpu"
).fit(X, y)
seconds = time.perf_counter() - start
n_candidates = len(search.cv_results_["params"])
print(f"{n_candidates} candidates x 5 folds in {seconds:.3f} s")
print(f"chosen: alpha={search.alpha_:.4g}, l1_ratio={search.l1_ratio_}")
print(f"cross-validated R^2: {search.best_score_:.4f}")

# %%
# The cross-validation curve
# --------------------------
# One curve per mix, the mean R² over the folds with one standard deviation
# around it; the dot is the choice.
results = search.cv_results_
alphas = np.asarray(results["param_alpha"], dtype=float)
ratios = np.asarray(results["param_l1_ratio"], dtype=float)
fig, ax = plt.subplots(figsize=(7, 4.5))
for l1_ratio in np.unique(ratios):
    rows = ratios == l1_ratio
    mean = results["mean_test_score"][rows]
    std = results["std_test_score"][rows]
    ax.semilogx(alphas[rows], mean, label=f"l1_ratio={l1_ratio:g}")
    ax.fill_between(alphas[rows], mean - std, mean + std, alpha=0.15)
ax.plot(search.alpha_, search.best_score_, "ko")
ax.set_xlabel("alpha")
ax.set_ylabel("mean cross-validated R$^2$")
ax.set_ylim(-0.1, 0.6)
ax.legend()
fig.tight_layout()
plt.show()

# %%
# The same search, a fit per candidate and split
# ----------------------------------------------
# ``GridSearchCV`` over :class:`~sktorch_linear.TorchLinearRegressor` with the
# same folds and candidates fits 450 models; its scores are the same.
grid = [{key: [value] for key, value in c.items()} for c in results["params"]]
start = time.perf_counter()
reference = GridSearchCV(TorchLinearRegressor(device="cpu"), grid, cv=folds)
reference.fit(X, y)
reference_seconds = time.perf_counter() - start
difference = max(
    np.max(np.abs(results[key] - reference.cv_results_[key]))
    for key in [f"split{k}_test_score" for k in range(5)]
)
chosen = {"alpha": search.alpha_, "l1_ratio": search.l1_ratio_}
print(
    f"GridSearchCV: {reference_seconds:.3f} s, the same choice: "
    f"{reference.best_params_ == chosen}"
)
print(f"largest difference of a split's R^2: {difference:.1e}")

# %%
# Ridge by efficient leave-one-out
# --------------------------------
# ``cv=None`` is ``RidgeCV``'s leave-one-out: without standardizing, its
# ``alpha`` is this one times the number of rows.
loo = TorchLinearRegressorCV(
    alphas=np.logspace(-4, 1, 20), cv=None, standardize=False, device="cpu"
).fit(X, y)
ridge = RidgeCV(alphas=loo.alphas_[0] * len(y), scoring="r2").fit(X, y)
print(f"alpha: {loo.alpha_ * len(y):.4g} (ours), {ridge.alpha_:.4g} (RidgeCV)")
print(f"leave-one-out R^2: {loo.best_score_:.10f}, {ridge.best_score_:.10f}")
