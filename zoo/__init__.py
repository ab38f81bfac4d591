"""evalkit.zoo."""
