"""Benchmarks: each script runs Sift and the usual ways side by side and prints ratios."""
