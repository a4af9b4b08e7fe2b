"""Load tests: a synthetic city with ground truth, its scoring, and peers for the benchmarks."""
