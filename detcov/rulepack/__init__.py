"""detcov.rulepack: candidate Sigma rules for the gaps, converted into the institution's own SIEM language.

cands = select_candidates(kb, gaps, telemetry, deployed_rules, sigma_rules, top=30)  # filtered, ranked, explained
conv = convert(cands, "splunk", telemetry)      # pySigma backends; failures keep the backend's reason
files = write_pack(conv, "pack/", "splunk", kb)  # one file per rule + index.csv / index.md
gain = what_if(config_path, scan, conv)          # detcov.rulepack.whatif: the scan re-run with the pack: KPI deltas
"""

from detcov.rulepack.convert import convert
from detcov.rulepack.model import GAP_CLASSES, Candidate, Converted, GapLike, NewerId, SigmaExtras, Target
from detcov.rulepack.pack import write_pack
from detcov.rulepack.select import select_candidates

__all__ = [
    "GAP_CLASSES",
    "Candidate",
    "Converted",
    "GapLike",
    "NewerId",
    "SigmaExtras",
    "Target",
    "convert",
    "select_candidates",
    "write_pack",
]
