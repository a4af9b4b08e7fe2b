"""Event-stream backbone for public-safety video networks."""

__version__ = "0.1.0"
