"""Package data of evalkit.reports: the published results and the name mappings (CSV)."""
