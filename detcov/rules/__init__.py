"""detcov.rules."""
