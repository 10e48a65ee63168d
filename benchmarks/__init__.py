"""Benchmarks that measure and report (never timed tests): ``backbeat bench pipeline|timing``."""
