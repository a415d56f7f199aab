"""The certification matrix: every solver × loss × penalty × input of
:class:`~sktorch_linear.TorchLinearRegressor` on families of data, each fit's
training objective compared, target by target, with a minimum computed by
solvers independent of the package.

- :mod:`.families`: the data families (shapes, scales, weights, layouts).
- :mod:`.references`: the objective as the README defines it, and its minimum
  from ``numpy.linalg.lstsq``, HiGHS (``scipy.optimize.linprog``) or cvxpy
  with CLARABEL.
- :mod:`.matrix`: the cells, one fit each, recorded as :class:`Record`; the
  acceptance rules; the summary table.

``python -m certify --write`` (from ``tests/``) runs the whole matrix and
writes its summary table into the README and the user guide.
"""
