"""Benchmarks and the paper's experiments over the library: scripts (`python bench/<name>.py`) that are also
modules (`bench.<name>`)."""
