"""Print the two NIST StRD accuracy tables of the documentation as Markdown:
``python -m benchmarks.accuracy_tables`` from the repository root.

1. The certified digits (minimum log relative error over the coefficients) of the
   exact solver through ``fit``, CSR ``fit`` and ``partial_fit`` (10 chunks),
   beside ``LinearRegression``'s and the limit of the float64 data.
2. The certified digits of the gradient solvers at default settings, with W where
   the fit raised a ``ConvergenceWarning``.

The data sets and the fits are those of the accuracy tests (``tests/nist.py``),
which check the figures against required digits; this command only reports them.
Both take a few seconds on two cores (the second runs 33 gradient fits).
"""

import argparse

from sklearn.linear_model import LinearRegression

from tests.nist import (
    DATASETS,
    GRADIENT_SOLVERS,
    PATHS,
    certified_digits,
    coefficients,
    data_limit,
    fit,
    gradient_fit,
    log_relative_error,
)


def exact_solver_table():
    """Certified digits of every path of the exact solver on every set.

    Returns
    -------
    list of str
        The lines of the Markdown table.
    """
    rows = [
        "| data set | difficulty | `LinearRegression` | `fit` | CSR `fit` | "
        "`partial_fit` (10 chunks) | float64 data limit |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, data in DATASETS.items():
        theirs = coefficients(fit(name, "fit", LinearRegression()), name)
        cells = [log_relative_error(theirs, data["certified_coef"])]
        cells += [certified_digits(name, path) for path in PATHS]
        cells.append(data_limit(name))
        rows.append(
            f"| {name} | {data['difficulty']} | "
            + " | ".join(f"{cell:.1f}" for cell in cells)
            + " |"
        )
    return rows


def gradient_solver_table():
    """Certified digits of each gradient solver at default settings on every set,
    with W where the fit warned.

    Returns
    -------
    list of str
        The lines of the Markdown table.
    """
    rows = ["| data set | " + " | ".join(f"`{s}`" for s in GRADIENT_SOLVERS) + " |"]
    rows.append("|---|" + "---|" * len(GRADIENT_SOLVERS))
    for name, data in DATASETS.items():
        cells = []
        for solver in GRADIENT_SOLVERS:
            reg, warned, _ = gradient_fit(name, solver)
            digits = log_relative_error(coefficients(reg, name), data["certified_coef"])
            cells.append(f"{digits:.1f}" + (" W" if warned else ""))
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def main(argv=None):
    """Print the tables.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.accuracy_tables",
        description="Print the NIST StRD accuracy tables as Markdown.",
    )
    parser.add_argument(
        "--only",
        choices=["exact", "gradient"],
        default=None,
        help="print one of the two tables (default: both)",
    )
    args = parser.parse_args(argv)
    if args.only in (None, "exact"):
        print("Minimum log relative error (correct digits) over coefficients:")
        print("\n".join(exact_solver_table()))
    if args.only is None:
        print()
    if args.only in (None, "gradient"):
        print("Gradient solvers at default settings (W: ConvergenceWarning):")
        print("\n".join(gradient_solver_table()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
