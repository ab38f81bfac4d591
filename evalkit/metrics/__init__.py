"""Metric engine."""
