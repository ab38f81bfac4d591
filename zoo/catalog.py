"""Registers the built-in zoo entries (import paths and metadata only)."""
