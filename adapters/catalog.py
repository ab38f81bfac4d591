"""Registers the built-in adapters entries (import paths and metadata only)."""
