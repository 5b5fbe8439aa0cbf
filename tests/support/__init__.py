"""What tests (and the benchmarks) share: paths, the Docker gate, harnesses, the lab stack, the prober.

Nothing here is a test. bench/ imports from this package; this package never
imports bench/, so the two cannot form an import cycle.
"""
