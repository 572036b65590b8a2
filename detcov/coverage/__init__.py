"""detcov.coverage."""
