"""Deduplication and correlation of the canonical capture stream: pure rules over explicit state.

The same code runs in the worker's stages (``streams.agents``) and offline
(``streams correlate``), so both give the same unique events and alerts for the same input.
"""
