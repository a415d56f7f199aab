"""
Inference statistics beside statsmodels
=======================================

``summary()`` gives an exact least-squares fit the table statisticians expect:
standard errors, t statistics, p-values and confidence intervals, with R²,
the F statistic and heteroskedasticity-robust covariances, as statsmodels'
OLS reports them, computed from the statistics of the fit.
"""

# %%
# The summary of a fit
# --------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes

from sktorch_linear import TorchLinearRegressor

X, y = load_diabetes(return_X_y=True, as_frame=True)
reg = TorchLinearRegressor(device="cpu").fit(X, y)
summary = reg.summary(cov_type="HC3", data=(X, y))
print(summary)

# %%
# The same numbers from statsmodels
# ---------------------------------
# statsmodels is optional; when it is installed the two tables agree to about
# twelve digits.
try:
    import statsmodels.api as sm
except ImportError:
    sm = None
if sm is not None:
    ols = sm.OLS(y, sm.add_constant(X)).fit(cov_type="HC3")
    # Both tables have a row "const", then one per column of X.
    difference = np.abs(summary.table["std_err"] - ols.bse[summary.table.index])
    print(f"largest difference of the HC3 standard errors: {difference.max():.1e}")


# %%
# Confidence intervals of the coefficients
# ----------------------------------------
table = summary.table.drop(index="const")
fig, ax = plt.subplots(figsize=(7, 4.5))
positions = np.arange(len(table))
ax.errorbar(
    table["coef"],
    positions,
    xerr=[table["coef"] - table["ci_lower"], table["ci_upper"] - table["coef"]],
    fmt="o",
    capsize=3,
)
ax.axvline(0, color="black", linewidth=1)
ax.set_yticks(positions, table.index)
ax.set_xlabel("coefficient with its 95% interval (HC3)")
fig.tight_layout()
plt.show()
