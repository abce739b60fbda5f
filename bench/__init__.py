"""Benchmarks (``make bench``): side-by-side ratios, never part of ``make test``."""
