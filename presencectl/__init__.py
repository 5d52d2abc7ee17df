"""presencectl: watch, record and replay device presence and activity event streams."""

__version__ = "0.1.0"

__all__ = ["__version__"]
