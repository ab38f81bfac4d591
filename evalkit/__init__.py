"""evalkit: evaluation harness and model zoo for universal instance perception models."""

__version__ = "0.1.0"
