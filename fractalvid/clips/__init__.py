"""Making clips: iterated function systems (ifs), their numba kernels, rendering, the comparison families,
the built-in action benchmark, and the resumable generation of a dataset (generate)."""
