"""evalkit.adapters."""
