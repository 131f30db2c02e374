"""Runnable benchmarks and the cost model; each prints its figures (make bench)."""
