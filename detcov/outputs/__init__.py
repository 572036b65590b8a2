"""detcov.outputs."""
