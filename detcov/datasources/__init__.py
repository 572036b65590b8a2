"""detcov.datasources."""
