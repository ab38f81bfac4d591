"""evalkit.benchmarks."""
