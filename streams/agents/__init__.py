"""Thin faust agents. Importing this package registers every agent with ``streams.app.app``."""

from streams.agents import normalize, raw_archive

__all__ = ["normalize", "raw_archive"]
