"""Rule health ("correct configuration"): does a rule really detect, in *this* system group, on *this* SIEM?

A rule counts as detection in a system group only when it runs (enabled or experimental), maps to a usable ATT&CK
technique, one of its platforms is a platform of the group, and one of its log-source alternatives is delivered
*in that group, on that platform, to the SIEM the rule runs on*: the device types it names, the data components it
needs, the vendor product it is written for (an Elastic Defend rule needs Elastic Defend, not "an EDR"), and the ML
job or custom table it reads. Rule-level outcomes (the same in every group):

* ``disabled``           the rule does not run (disabled, deprecated)
* ``unmapped``           no ATT&CK technique at all
* ``unknown-technique``  techniques written, none usable in the loaded ATT&CK (unknown / deprecated ids)

Per (rule, system group, SIEM) — :class:`GroupHealth`:

* ``not-applicable``        the group runs none of the rule's platforms (a macOS rule in a Windows-only bank)
* ``missing-log-source``    none of its log-source alternatives is delivered there (``missing`` says what lacks)
* ``unverified-log-source`` it declares no log source the mapping tables know, or a product / ML job / custom table
  detcov cannot check (the device's product or the SIEM's jobs are not stated)
* ``healthy``

The rule's overall outcome is ``healthy`` when it is healthy in at least one group it watches; its per-group
verdicts explain themselves ("needs Sysmon; Windows workstations have none").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from detcov.attack import AttackKB
from detcov.datasources.telemetry import CollectedTelemetry, fold
from detcov.rules.model import LogSourceNeed, LogSourceReq, Rule
from detcov.slots import slot_builder


class HealthOutcome(StrEnum):
    HEALTHY = "healthy"
    DISABLED = "disabled"
    MISSING_LOG_SOURCE = "missing-log-source"
    UNMAPPED = "unmapped"
    UNKNOWN_TECHNIQUE = "unknown-technique"
    UNVERIFIED = "unverified-log-source"
    NOT_APPLICABLE = "not-applicable"


# When a rule is not healthy anywhere, the overall outcome is the most telling of its group outcomes: "cannot be
# verified" where its source is present beats "missing" in groups that lack it.
_OVERALL_ORDER = (HealthOutcome.UNVERIFIED, HealthOutcome.MISSING_LOG_SOURCE, HealthOutcome.NOT_APPLICABLE)


@dataclass(frozen=True, slots=True)
class HealthScope:
    """Where a rule is judged: one system group (its platforms) as seen by one SIEM."""

    group: str
    platforms: tuple[str, ...]
    siem: str
    telemetry: CollectedTelemetry


@dataclass(frozen=True, slots=True)
class GroupHealth:
    group: str
    siem: str
    outcome: HealthOutcome
    detail: str
    missing: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()  # the devices delivering the met log source (for independent-source depth)

    @property
    def healthy(self) -> bool:
        return self.outcome is HealthOutcome.HEALTHY

    def text(self) -> str:
        return f"{self.group} ({self.siem}): {self.outcome.value}" + (f" — {self.detail}" if self.detail else "")


def verdicts_text(groups: Iterable[GroupHealth]) -> str:
    """A rule's verdicts where it applies, each outcome and reason once, with the groups and SIEMs it holds in (and,
    where healthy, the devices that deliver): ``healthy in Windows servers (splunk, sentinel: EDR) | missing-log-source
    in Linux servers (splunk, elastic); Core banking (splunk) — sigma …: needs device linux-auditd on Linux``. The
    reason of a missing source is what is not delivered, the same text in every group that lacks it."""
    shared: dict[tuple[HealthOutcome, str], dict[str, list[GroupHealth]]] = {}
    for g in groups:
        if g.outcome is not HealthOutcome.NOT_APPLICABLE:
            reason = "" if g.healthy else "; ".join(g.missing) or g.detail
            shared.setdefault((g.outcome, reason), {}).setdefault(g.group, []).append(g)
    return " | ".join(f"{outcome.value} in {'; '.join(_where(group, hs) for group, hs in per_group.items())}"
                      + (f" — {reason}" if reason else "") for (outcome, reason), per_group in shared.items())


def _where(group: str, verdicts: Sequence[GroupHealth]) -> str:
    devices = ", ".join(dict.fromkeys(d for v in verdicts for d in v.devices))
    return f"{group} ({', '.join(v.siem for v in verdicts)}" + (f": {devices}" if devices else "") + ")"


@dataclass(frozen=True, slots=True)
class RuleHealth:
    rule: Rule
    outcome: HealthOutcome
    detail: str = ""
    missing: tuple[str, ...] = ()  # what is not delivered, one line per log-source alternative (first group)
    groups: tuple[GroupHealth, ...] = ()  # per system group × SIEM (empty for rule-level outcomes)
    by_group: Mapping[str, GroupHealth] = field(default_factory=dict, compare=False, repr=False)  # from groups
    label: str = field(init=False, compare=False, repr=False)  # "title [format]": how scores name the rule

    def __post_init__(self) -> None:
        if self.groups and not self.by_group:
            object.__setattr__(self, "by_group", best_by_group(self.groups))
        object.__setattr__(self, "label", _label(self.rule))

    @property
    def healthy(self) -> bool:
        return self.outcome is HealthOutcome.HEALTHY

    def in_group(self, group: str) -> GroupHealth | None:
        """The best verdict of the rule in one system group (healthy on any of its SIEMs wins)."""
        return self.by_group.get(group)

    @property
    def healthy_groups(self) -> tuple[str, ...]:
        return healthy_groups(self.groups)


def _label(rule: Rule) -> str:
    return f"{rule.title or rule.id} [{rule.format}]"  # a StrEnum formats as its value (no descriptor call)


_build_health = slot_builder(RuleHealth)  # a rule sharing the judgement of another that needs the same thing


def healthy_groups(groups: Iterable[GroupHealth]) -> tuple[str, ...]:
    """The groups where a rule is healthy (on any of its SIEMs), in order."""
    return tuple(dict.fromkeys(g.group for g in groups if g.healthy))


def best_by_group(groups: Iterable[GroupHealth]) -> dict[str, GroupHealth]:
    """Each group's best verdict: the first healthy one on any SIEM, else its first."""
    out: dict[str, GroupHealth] = {}
    for g in groups:
        if g.group not in out or (g.healthy and not out[g.group].healthy):
            out[g.group] = g
    return out


def estate_scopes(telemetry: CollectedTelemetry, platforms: Iterable[str] | None = None) -> tuple[HealthScope, ...]:
    """One scope over a whole estate's telemetry (``rules check`` without system groups)."""
    return (HealthScope("(estate)", tuple(platforms or ()), telemetry.siem.id if telemetry.siem else "siem",
                        telemetry),)


def assess(rules: Iterable[Rule], kb: AttackKB, scopes: CollectedTelemetry | Sequence[HealthScope]
           ) -> list[RuleHealth]:
    """The health of each rule, in order, in every scope it watches (a plain telemetry: the whole estate).

    A verdict depends only on what a rule needs (its log sources and platforms) and where it is judged (the groups
    and SIEMs it watches), never on its id or query, so rules that need the same thing share one judgement: a
    100,000-rule corpus has a few thousand distinct needs."""
    judge = _Judge(kb, estate_scopes(scopes) if isinstance(scopes, CollectedTelemetry) else tuple(scopes))
    return [judge.rule(rule, *judge.watched(rule)) for rule in rules]


def watched(rule: Rule, scopes: Sequence[HealthScope]) -> tuple[HealthScope, ...]:
    """The scopes a rule watches: the groups of its rule source (``all``: every group), on its SIEMs."""
    groups = set(rule.applicable_to) - {"all"}
    return tuple(s for s in scopes if (not groups or s.group in groups or s.group == "(estate)")
                 and (not rule.siems or s.siem in rule.siems))


def rule_platforms(rule: Rule, kb: AttackKB) -> tuple[str, ...]:
    return rule.platforms or _technique_platforms(rule.technique_ids, kb)


def _technique_platforms(technique_ids: tuple[str, ...], kb: AttackKB) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for tid in technique_ids:
        technique = kb.technique(tid)
        found.update(dict.fromkeys(technique.platforms if technique else ()))
    return tuple(found)


def assess_rule(rule: Rule, kb: AttackKB, scopes: Sequence[HealthScope]) -> RuleHealth:
    """One rule's health in exactly these scopes."""
    return _Judge(kb, tuple(scopes)).rule(rule, tuple(scopes), None)


class _Judge:
    """Rule health, with each distinct judgement made once per :func:`assess` run and shared by every rule that
    needs the same thing (the scopes do not change during a run)."""

    def __init__(self, kb: AttackKB, scopes: tuple[HealthScope, ...]) -> None:
        self.kb, self.scopes = kb, scopes
        self._watched: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[HealthScope, ...]] = {}
        self._platforms: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._judged: dict[tuple[object, ...], RuleHealth] = {}  # the first rule judged with each need

    def watched(self, rule: Rule) -> tuple[tuple[HealthScope, ...], object]:
        """The scopes the rule watches and the key they are remembered by."""
        key = (rule.applicable_to, rule.siems)
        if key not in self._watched:
            self._watched[key] = watched(rule, self.scopes)
        return self._watched[key], key

    def rule(self, rule: Rule, scopes: tuple[HealthScope, ...], scopes_key: object) -> RuleHealth:
        early = _rule_level(rule)
        if early is not None:
            return early
        platforms = rule.platforms or self._technique_platforms(rule.technique_ids)
        key = (rule.log_sources, platforms, scopes_key)
        if key not in self._judged:
            self._judged[key] = _judged(rule, platforms, scopes, self.kb)
        t = self._judged[key]
        return _build_health((rule, t.outcome, t.detail, t.missing, t.groups, t.by_group, _label(rule)))

    def _technique_platforms(self, technique_ids: tuple[str, ...]) -> tuple[str, ...]:
        if technique_ids not in self._platforms:
            self._platforms[technique_ids] = _technique_platforms(technique_ids, self.kb)
        return self._platforms[technique_ids]


def _rule_level(rule: Rule) -> RuleHealth | None:
    """The outcomes that are the rule's own, the same in every group (disabled, unmapped, unknown technique), or
    None when the rule must be judged where it runs."""
    if not rule.status.active:
        return RuleHealth(rule, HealthOutcome.DISABLED, rule.raw_status or rule.status.value)
    if not rule.techniques:
        return RuleHealth(rule, HealthOutcome.UNMAPPED, "no ATT&CK technique id in the rule")
    if not rule.technique_ids:
        notes = "; ".join(r.note for r in rule.unusable_techniques)
        return RuleHealth(rule, HealthOutcome.UNKNOWN_TECHNIQUE, notes,
                          tuple(r.id or r.raw for r in rule.unusable_techniques))
    return None


def _judged(rule: Rule, platforms: tuple[str, ...], scopes: tuple[HealthScope, ...], kb: AttackKB) -> RuleHealth:
    mapped = [req for req in rule.log_sources if req.mapped]
    if not mapped:
        detail = ("declares no log source" if not rule.log_sources
                  else "log source not in the mapping tables: " + ", ".join(rule.log_source_labels))
        return RuleHealth(rule, HealthOutcome.UNVERIFIED, detail,
                          groups=tuple(GroupHealth(s.group, s.siem, HealthOutcome.UNVERIFIED, detail) for s in scopes))
    return _overall(rule, tuple(_in_scope(mapped, platforms, s, kb) for s in scopes))


def _overall(rule: Rule, groups: tuple[GroupHealth, ...]) -> RuleHealth:
    healthy = [g for g in groups if g.healthy]
    if healthy:
        where = dict.fromkeys(g.group for g in healthy)  # healthy on any of its SIEMs
        others = dict.fromkeys(g.group for g in groups
                               if g.group not in where and g.outcome is not HealthOutcome.NOT_APPLICABLE)
        extra = f"; not in {', '.join(others)}" if others else ""
        return RuleHealth(rule, HealthOutcome.HEALTHY, f"healthy in {', '.join(where)}{extra}", groups=groups)
    if not groups:
        return RuleHealth(rule, HealthOutcome.NOT_APPLICABLE, "watches no system group of the inventory")
    outcome = next(o for o in _OVERALL_ORDER if any(g.outcome is o for g in groups))
    first = next(g for g in groups if g.outcome is outcome)
    detail = first.detail if len(groups) == 1 else f"{first.group}: {first.detail}"
    return RuleHealth(rule, outcome, detail, first.missing, groups)


def _in_scope(mapped: Sequence[LogSourceReq], platforms: tuple[str, ...], scope: HealthScope,
              kb: AttackKB) -> GroupHealth:
    where = tuple(p for p in platforms if not scope.platforms or p in scope.platforms) if platforms \
        else scope.platforms
    if not where:
        return GroupHealth(scope.group, scope.siem, HealthOutcome.NOT_APPLICABLE,
                           f"runs on {', '.join(platforms)}; {scope.group} runs {', '.join(scope.platforms)}")
    unverified: list[str] = []
    for req in mapped:
        states = [need_state(need, scope.telemetry, where) for need in req.needs]
        if all(s.met for s in states):
            devices = tuple(dict.fromkeys(d for s in states for d in s.devices))
            return GroupHealth(scope.group, scope.siem, HealthOutcome.HEALTHY,
                               f"{req.kind} {req.value} is delivered ({', '.join(devices) or 'declared'})",
                               devices=devices)
        if all(s.met or s.unverified for s in states):
            unverified += [f"{req.kind} {req.value}: {s.reason}" for s in states if s.unverified]
    if unverified:
        return GroupHealth(scope.group, scope.siem, HealthOutcome.UNVERIFIED, "; ".join(unverified))
    missing = tuple(describe_missing(req, scope.telemetry, where, kb) for req in mapped)
    detail = (f"{missing[0]}; {scope.group} has none" if len(missing) == 1 else
              f"none of its {len(missing)} log sources is delivered in {scope.group}")
    if scope.telemetry.silent:  # log-flow evidence: a declared source that stopped sending
        detail += " — silent: " + "; ".join(f"{d} ({why})" for d, why in sorted(scope.telemetry.silent.items()))
    return GroupHealth(scope.group, scope.siem, HealthOutcome.MISSING_LOG_SOURCE, detail, missing)


@dataclass(frozen=True, slots=True)
class NeedState:
    met: bool
    unverified: bool = False
    reason: str = ""
    devices: tuple[str, ...] = ()


def need_state(need: LogSourceNeed, telemetry: CollectedTelemetry, platforms: tuple[str, ...]) -> NeedState:
    """Is one need met on one of ``platforms`` (a type-only match still respects the platform)?"""
    if need.ml_job or need.custom_table:
        return _siem_object(need, telemetry)
    where: tuple[str | None, ...] = tuple(p for p in platforms if not need.platforms or p in need.platforms) \
        if platforms else (None,)
    if not where:
        return NeedState(False, reason=f"only on {', '.join(need.platforms)}")
    product_unknown = False
    for p in where:
        devices = telemetry.devices_for(need.device_types, need.components, p)
        if not devices:
            continue
        if need.products:
            with_product = telemetry.with_products(devices, need.products)
            if with_product:
                return NeedState(True, devices=tuple(sorted(with_product)))
            product_unknown = product_unknown or telemetry.product_unknown(devices)
            continue
        return NeedState(True, devices=tuple(sorted(devices)))
    if product_unknown:
        return NeedState(False, True, f"needs {' or '.join(sorted(need.products))}; the delivering device's product "
                         "is not stated (set product_id in the inventory)")
    return NeedState(False)


def _siem_object(need: LogSourceNeed, telemetry: CollectedTelemetry) -> NeedState:
    siem = telemetry.siem
    kind, name = ("ML job", need.ml_job) if need.ml_job else ("custom table", need.custom_table)
    home = "elastic" if need.ml_job else "sentinel"  # where such objects exist at all
    if siem is not None and siem.product not in (home, "other"):
        return NeedState(False, reason=f"{kind} {name} is a {home} object; SIEM {siem.id} is {siem.product}")
    declared = (siem.ml_jobs if need.ml_job else siem.custom_tables) if siem else frozenset()
    if not declared:
        where = f"SIEM {siem.id}" if siem else "the SIEM"
        return NeedState(False, True, f"{kind} {name}: {where} declares none (list them under siems: in the inventory)")
    if fold(name or "") in declared:
        return NeedState(True, devices=(f"{kind} {name}",))
    return NeedState(False, reason=f"{kind} {name} does not run on {siem.id if siem else 'the SIEM'}")


def need_met(need: LogSourceNeed, telemetry: CollectedTelemetry, platforms: tuple[str, ...]) -> bool:
    return need_state(need, telemetry, platforms).met


def describe_missing(req: LogSourceReq, telemetry: CollectedTelemetry, platforms: tuple[str, ...],
                     kb: AttackKB) -> str:
    """``index logs-endpoint.events.process-*: needs Elastic Defend (edr) on Windows`` — what is not delivered."""
    parts: list[str] = []
    on = " or ".join(platforms) or "any platform"
    for need in req.needs:
        state = need_state(need, telemetry, platforms)
        if state.met:
            continue
        if state.reason:
            parts.append(state.reason)
            continue
        names = sorted(dc.name for c in need.components if (dc := kb.data_component(c)) is not None)
        types = " or ".join(sorted(need.device_types))
        if need.products:
            wanted = " or ".join(_product_name(p) for p in sorted(need.products))
            parts.append(f"needs {wanted}" + (f" ({types})" if types else "") + f" on {on}")
        elif types:
            parts.append(f"needs device {types} on {on}" + (f" ({' + '.join(names)})" if names else ""))
        elif names:
            parts.append(f"needs {' + '.join(names)} on {on}")
    return f"{req.kind} {req.value}: {'; '.join(dict.fromkeys(parts)) or 'needs an unmapped source'}"


def _product_name(key: str) -> str:
    from detcov.datasources.products import load_products

    return load_products().name(key)
