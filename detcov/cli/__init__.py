"""detcov.cli."""
