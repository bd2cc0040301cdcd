"""Benchmarks: one script per performance goal, measuring against a baseline in the same run (docs/BENCHMARKS.md).

Every script parses its options with ``bench.common.parse_options(parser, SMOKE)``: ``--smoke``
runs it on a tiny input in seconds, and tests/integration/test_bench_smoke.py runs every script so.
A module without ``if __name__ == "__main__":`` is a library some script imports.
"""
