"""Pure domain rules (plates, codes) shared by normalisers, dedup and search; no I/O."""
