"""Wire formats of the canonical topics."""
