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
    """Sum the pairs ``hi + lo`` along ``dim`` by a pairwise tree of error-free
    additions; the rounding errors are collected in the low part. Returns the
    pair ``(s, e)``, accurate as if summed in twice the working precision."""
    size = hi.shape[dim]
    padded = 1 << max(size - 1, 0).bit_length()
    if padded != size:  # zeros up to a power of two: every level halves exactly
        shape = list(hi.shape)
        shape[dim] = padded - size
        zeros = hi.new_zeros(shape)
        hi, lo = torch.cat([hi, zeros], dim), torch.cat([lo, zeros], dim)
    while padded > 1:
        padded //= 2
        s, error = two_sum(hi.narrow(dim, 0, padded), hi.narrow(dim, padded, padded))
        lo = lo.narrow(dim, 0, padded) + lo.narrow(dim, padded, padded) + error
        hi = s
    return hi.squeeze(dim), lo.squeeze(dim)


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
