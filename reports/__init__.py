"""evalkit.reports."""
