"""Result rows and headline ratios, the two outputs of every workload."""

import statistics


def row(workload, contender, seconds, *, n, p, ctx, reference=False, **extra):
    """One result row from a list of timings.

    Parameters
    ----------
    workload, contender : str
        Names of the workload and of the contender.
    seconds : list of float
        The timed repeats.
    n, p : int
        Rows and columns of the problem.
    ctx : Context
        The run (its device unless ``extra`` names one).
    reference : bool, default=False
        Whether the row is the workload's reference.
    **extra
        Other columns (``device`` and ``dtype`` override the defaults).

    Returns
    -------
    dict
        The row.
    """
    return {
        "workload": workload,
        "contender": contender,
        "reference": reference,
        "n_samples": n,
        "n_features": p,
        "device": extra.pop("device", ctx.device),
        "dtype": extra.pop("dtype", "float64"),
        "repeats": len(seconds),
        "median_s": float(statistics.median(seconds)),
        "min_s": float(min(seconds)),
        **extra,
    }


def ratio(times, a, b):
    """Median time of contender ``a`` over that of contender ``b``.

    Parameters
    ----------
    times : dict of str to list of float
        Timed repeats by contender.
    a, b : str
        The two contenders.

    Returns
    -------
    float
        The ratio of the medians.
    """
    return statistics.median(times[a]) / statistics.median(times[b])


def headline(workload, quantity, value, reading):
    """One headline: a ratio (or other figure) and how to read it.

    Parameters
    ----------
    workload, quantity : str
        The workload and the quantity measured.
    value : float
        The figure.
    reading : str
        The figure in words.

    Returns
    -------
    dict
        The headline.
    """
    return {
        "workload": workload,
        "quantity": quantity,
        "value": float(value),
        "reading": reading,
    }


def faster(value, subject, other):
    """A time ratio ``other / subject`` in words.

    Parameters
    ----------
    value : float
        The ratio.
    subject, other : str
        The contenders compared.

    Returns
    -------
    str
        "... is N x faster than ..." or "... is N x slower than ...".
    """
    if value >= 1:
        return f"{subject} is {value:.2f}x faster than {other}"
    return f"{subject} is {1 / value:.2f}x slower than {other}"
