"""Technique ids of an ATT&CK release other than the loaded one (a Sigma corpus ahead of the bundle).

SigmaHQ moved to ATT&CK v19 ids (``T1685`` …) before detcov's bundles did. The id normaliser already counts them
under their loaded-version equivalent through the one crosswalk (:mod:`detcov.attack.crosswalk`); this module
only lists them per rule for the pack's index and its explanations, with or without an equivalent.
"""

from __future__ import annotations

from detcov.attack import AttackKB, IdResolution, IdStatus
from detcov.rulepack.model import NewerId
from detcov.rules import Rule


def newer_id(res: IdResolution, kb: AttackKB) -> NewerId | None:
    """A tag of another ATT&CK release: its equivalent here (crosswalked) or None (no known equivalent).
    None for ids of the loaded release and for plain unknown ids."""
    if res.release is None or res.id is None:
        return None
    loaded = res.current if res.status is IdStatus.CROSSWALKED else None
    pair = kb.crosswalk.to_older.get(res.id) if kb.crosswalk is not None else None
    return NewerId(res.id, loaded, pair.new_name if pair else "", res.release)


def counted_rule(rule: Rule, kb: AttackKB) -> tuple[Rule, tuple[NewerId, ...]]:
    """The rule (its ids are already counted through the crosswalk) and the other-release ids it carries."""
    return rule, tuple(found for res in rule.techniques if (found := newer_id(res, kb)) is not None)
