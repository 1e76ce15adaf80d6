"""Benchmarks: `make bench` (or `python -m benchmarks [name ...]`). Not part of the test suite."""
