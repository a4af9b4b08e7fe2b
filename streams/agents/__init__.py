"""Thin faust agents. Importing this package registers every agent with ``streams.app.app``."""

from streams.agents import normalize
from streams.settings import get_settings

if get_settings().archive_raw:
    from streams.agents import raw_archive  # noqa: F401

__all__ = ["normalize"]
