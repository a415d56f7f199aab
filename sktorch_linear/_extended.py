"""Sums and products in about twice the working precision, from error-free
transformations (Knuth's TwoSum, Dekker's TwoProduct; Ogita, Rump and Oishi,
"Accurate sum and dot product", 2005).

A value is carried as an unevaluated pair ``hi + lo``. Every function takes
tensors of any floating dtype on any device and uses only elementwise
operations and slicing: its result does not depend on BLAS kernels, vector
widths or thread counts. It must never be fused into multiply-adds, which
torch's eager elementwise kernels do not do.
"""

import math

import torch


def _splitter(dtype):
    """Dekker's constant ``2**ceil(t / 2) + 1`` for a ``t``-bit significand."""
    bits = round(-math.log2(torch.finfo(dtype).eps)) + 1
    return float(2 ** math.ceil(bits / 2) + 1)


def split(a):
    """``a = hi + lo`` exactly, each half with at most half the significand
    (finite for ``|a|`` below ``max / 2**27`` in float64)."""
    c = a * _splitter(a.dtype)
    hi = c - (c - a)
    return hi, a - hi


def two_sum(a, b):
    """``a + b = s + e`` exactly, with ``s = fl(a + b)`` (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def two_prod(a, b, a_parts=None, b_parts=None):
    """``a * b = p + e`` exactly, with ``p = fl(a * b)`` (Dekker), broadcasting;
    ``a_parts``/``b_parts`` are the operands' ``split``, when already at hand."""
    p = a * b
    a_hi, a_lo = split(a) if a_parts is None else a_parts
    b_hi, b_lo = split(b) if b_parts is None else b_parts
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def sum2(hi, lo, dim):
    """Sum the pairs ``hi + lo`` along ``dim``; the rounding errors are
    collected in the low part. Returns the pair ``(s, e)``, accurate as if
    summed in twice the working precision.

    Up to ``_TREE_TERMS`` terms are added by a pairwise tree of error-free
    additions; more, in chunks of up to ``_EXTRACT_TERMS``, by extraction
    (Rump, Ogita and Oishi, "Accurate floating-point summation, part I",
    2008): about 25 operations whatever the number of terms, where a tree
    takes 8 a level."""
    size = hi.shape[dim]
    if size <= _TREE_TERMS:
        return _tree_sum(hi, lo, dim)
    if size <= _EXTRACT_TERMS:
        return _extract_sum(hi, lo, dim)
    chunks = -(-size // _EXTRACT_TERMS)
    hi, lo = (
        _padded(hi, dim, chunks * _EXTRACT_TERMS),
        _padded(lo, dim, chunks * _EXTRACT_TERMS),
    )
    shape = (*hi.shape[:dim], chunks, _EXTRACT_TERMS, *hi.shape[dim + 1 :])
    hi, lo = _extract_sum(hi.reshape(shape), lo.reshape(shape), dim + 1)
    return sum2(hi, lo, dim)


# Most terms summed by a tree, and by one extraction.
_TREE_TERMS = 16
_EXTRACT_TERMS = 2**12


def _padded(values, dim, size):
    """``values`` with zeros appended along ``dim`` up to ``size``."""
    if values.shape[dim] == size:
        return values
    shape = list(values.shape)
    shape[dim] = size - values.shape[dim]
    return torch.cat([values, values.new_zeros(shape)], dim)


def _tree_sum(hi, lo, dim):
    padded = 1 << max(hi.shape[dim] - 1, 0).bit_length()
    hi, lo = _padded(hi, dim, padded), _padded(lo, dim, padded)  # levels halve exactly
    while padded > 1:
        padded //= 2
        s, error = two_sum(hi.narrow(dim, 0, padded), hi.narrow(dim, padded, padded))
        lo = lo.narrow(dim, 0, padded) + lo.narrow(dim, padded, padded) + error
        hi = s
    return hi.squeeze(dim), lo.squeeze(dim)


def _extract(values, dim):
    """``values = q + r`` exactly, the ``q`` on a grid coarse enough that their
    sum along ``dim`` is exact in any order (``sigma = 2**M`` times the
    magnitude of the largest, ``2**M >= terms + 2``: Rump, Ogita and Oishi's
    ExtractVector), and ``|r| <= eps sigma``."""
    largest = values.abs().sum(dim, keepdim=True)  # cheaper than amax, as valid
    exponent = torch.frexp(largest).exponent + (values.shape[dim] + 1).bit_length()
    sigma = torch.ldexp(torch.ones_like(largest), exponent)
    q = (sigma + values) - sigma
    return q, values - q


def _extract_sum(hi, lo, dim):
    """:func:`sum2` by two extractions: the sums of both grids are exact, the
    remainders (below ``eps**2`` of the largest term each) and the low parts
    are summed in working precision."""
    q1, rest = _extract(hi, dim)
    q2, rest = _extract(rest, dim)
    s, error = two_sum(q1.sum(dim), q2.sum(dim))
    return s, error + (rest.sum(dim) + lo.sum(dim))


def add(a, b):
    """The sum of the pairs ``a = (hi, lo)`` and ``b``, as a pair."""
    s, error = two_sum(a[0], b[0])
    return s, a[1] + b[1] + error


def mul(a, b):
    """The product of the pairs ``a`` and ``b``, as a pair (broadcasting)."""
    p, error = two_prod(a[0], b[0])
    return p, error + (a[0] * b[1] + a[1] * b[0])


def pair(a):
    """``a`` as a pair with a zero low part."""
    return a, torch.zeros_like(a)


def value(pair):
    """The pair rounded to working precision."""
    return pair[0] + pair[1]
