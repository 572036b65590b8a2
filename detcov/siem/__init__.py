"""Live from the SIEM: connectors that pull rules with their state and log-flow evidence (``detcov pull``), and
the log-flow model that tells, per device and SIEM, whether its logs really flow (:mod:`detcov.siem.flow`).

The connectors use the standard library's HTTP client only; see each module for the API subset it calls.
"""

from detcov.siem.flow import (
    FlowObservation,
    FlowState,
    FlowStatus,
    evidence_time,
    load_flow,
    match_flow,
    unknown_siems,
)
from detcov.siem.snapshot import PullManifest, find_manifests, flow_as_of, load_manifest

__all__ = ["FlowObservation", "FlowState", "FlowStatus", "PullManifest", "evidence_time", "find_manifests",
           "flow_as_of", "load_flow", "load_manifest", "match_flow", "unknown_siems"]
