"""Thin faust agents. Importing this package registers every agent with ``streams.app.app``."""

from streams.agents import raw_archive

__all__ = ["raw_archive"]
