"""Peer implementations of the normalize+dedup path, for the side-by-side benchmark."""
