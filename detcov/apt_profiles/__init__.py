"""detcov.apt_profiles."""
