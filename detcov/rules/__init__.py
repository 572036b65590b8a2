"""detcov.rules: SIGMA / Splunk / Elastic / Sentinel / Defender / CSV / DeTT&CT rules → normalised
:class:`Rule`.

ruleset = read_rules(["rules/"], kb)          # every file accounted for (ruleset.files)
health = assess(ruleset.rules, kb, telemetry)  # healthy / disabled / missing-log-source / ...

The names are imported on first use (:mod:`detcov.lazy`): ``detcov rules --help`` reads ``detcov.rules.model``
without loading every reader, PyYAML and pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from detcov.lazy import lazy_exports

if TYPE_CHECKING:
    from detcov.rules.health import (
        HealthOutcome as HealthOutcome,
    )
    from detcov.rules.health import (
        RuleHealth as RuleHealth,
    )
    from detcov.rules.health import (
        assess as assess,
    )
    from detcov.rules.logsources import (
        mapper_for as mapper_for,
    )
    from detcov.rules.logsources import (
        sigma_logsource as sigma_logsource,
    )
    from detcov.rules.model import (
        FORMAT_CHOICES as FORMAT_CHOICES,
    )
    from detcov.rules.model import (
        FileResult as FileResult,
    )
    from detcov.rules.model import (
        LogSourceNeed as LogSourceNeed,
    )
    from detcov.rules.model import (
        LogSourceReq as LogSourceReq,
    )
    from detcov.rules.model import (
        Rule as Rule,
    )
    from detcov.rules.model import (
        RuleFormat as RuleFormat,
    )
    from detcov.rules.model import (
        RuleSet as RuleSet,
    )
    from detcov.rules.model import (
        RuleStatus as RuleStatus,
    )
    from detcov.rules.reader import (
        read_rules as read_rules,
    )

__getattr__, __all__ = lazy_exports(__name__, {
    "detcov.rules.health": ("HealthOutcome", "RuleHealth", "assess"),
    "detcov.rules.logsources": ("mapper_for", "sigma_logsource"),
    "detcov.rules.model": ("FORMAT_CHOICES", "FileResult", "LogSourceNeed", "LogSourceReq", "Rule", "RuleFormat",
                           "RuleSet", "RuleStatus"),
    "detcov.rules.reader": ("read_rules",),
})
