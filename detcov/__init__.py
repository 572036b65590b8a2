"""detcov: detection-coverage analysis for SOCs, on MITRE ATT&CK (DeTT&CT method and beyond)."""

__version__ = "0.1.0"
