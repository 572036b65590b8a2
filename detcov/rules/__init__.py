"""detcov.rules: SIGMA / Splunk / Elastic / Sentinel / Defender / CSV / DeTT&CT rules → normalised
:class:`Rule`.

ruleset = read_rules(["rules/"], kb)          # every file accounted for (ruleset.files)
health = assess(ruleset.rules, kb, telemetry)  # healthy / disabled / missing-log-source / ...
"""

from detcov.rules.health import HealthOutcome, RuleHealth, assess
from detcov.rules.logsources import mapper_for, sigma_logsource
from detcov.rules.model import (
    FORMAT_CHOICES,
    FileResult,
    LogSourceNeed,
    LogSourceReq,
    Rule,
    RuleFormat,
    RuleSet,
    RuleStatus,
)
from detcov.rules.reader import read_rules

__all__ = [
    "FORMAT_CHOICES",
    "FileResult",
    "HealthOutcome",
    "LogSourceNeed",
    "LogSourceReq",
    "Rule",
    "RuleFormat",
    "RuleHealth",
    "RuleSet",
    "RuleStatus",
    "assess",
    "mapper_for",
    "read_rules",
    "sigma_logsource",
]
