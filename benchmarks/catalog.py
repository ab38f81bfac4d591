"""Registers the built-in benchmarks entries (import paths and metadata only)."""
