"""Benchmarks of sktorch_linear against scikit-learn, skorch and bare torch.

Run them with ``python -m benchmarks.run`` (or ``make bench`` / ``make bench-quick``);
see ``benchmarks/README.md``.
"""
