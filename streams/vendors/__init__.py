"""Vendor adapters: one pure module per source format, and ``normalize`` that wraps them all."""

from streams.vendors.registry import ADAPTERS, normalize

__all__ = ["ADAPTERS", "normalize"]
