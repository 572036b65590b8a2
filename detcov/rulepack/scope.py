"""Where a suggested rule would run: the system groups whose collected telemetry makes it healthy.

A candidate is only suggested for the groups where it would be healthy: the group runs one of the rule's
platforms, and every need of the rule's log source is collected *in that group* (its own devices that send to
the SIEM) — not merely somewhere in the bank. A Sysmon rule targets the groups that run Sysmon; a rule that the
Windows audit log can feed targets the groups that forward 4688. ``reach`` is the share of the hosts on the
rule's platforms that its target groups hold (a rule that runs on every Windows host has reach 1.0).

The groups' telemetry comes from the scan's scope model (:class:`detcov.coverage.scope.Estate`), the one home of
per-group, per-SIEM telemetry that rule health reads too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from detcov.attack import AttackKB
from detcov.coverage.scope import Estate
from detcov.datasources.inventory import Inventory, collected_telemetry
from detcov.datasources.telemetry import CollectedTelemetry
from detcov.rules import Rule
from detcov.rules.health import need_met, rule_platforms


@dataclass(frozen=True, slots=True)
class GroupView:
    """One system group as the pack sees it: platforms, hosts (0 = not stated), what it sends to the SIEM."""

    name: str
    platforms: tuple[str, ...]
    hosts: int
    telemetry: CollectedTelemetry
    per_type: Mapping[str, CollectedTelemetry] = field(default_factory=dict)  # what each device type alone sends

    @property
    def device_types(self) -> frozenset[str]:
        return self.telemetry.device_types

    def only(self, device_type: str) -> GroupView | None:
        """The group as if only that device type sent logs (None when the group has none of it)."""
        telemetry = self.per_type.get(device_type)
        return None if telemetry is None else GroupView(self.name, self.platforms, self.hosts, telemetry)


def group_views(estate: Estate, siem: str | None = None) -> tuple[GroupView, ...]:
    """Per system group, the telemetry its own devices deliver to ``siem`` (None: to any SIEM), read from the scan's
    scope model (:meth:`Estate.telemetry`): devices resolved once with the scan's context, so a feed found silent
    does not reach that SIEM and the SIEM's ML jobs and custom tables count. ``per_type`` is the same view of an
    estate that has only that device type's devices."""
    types = sorted({d.type for d in estate.devices if d.type})
    alone = {t: dataclasses.replace(estate, devices=tuple(d for d in estate.devices if d.type == t)) for t in types}
    out = []
    for group in estate.groups:
        whole = _delivered(estate, group.applicable_to, siem)
        per_type = {t: _delivered(alone[t], group.applicable_to, siem) for t in whole.device_types}
        out.append(GroupView(group.applicable_to, tuple(group.platforms), group.hosts or 0, whole, per_type))
    return tuple(out)


def _delivered(estate: Estate, group: str, siem: str | None) -> CollectedTelemetry:
    if siem is None:  # any SIEM: the group's telemetry as visibility reads it
        return collected_telemetry([estate.group_telemetry[group]])
    return estate.telemetry(group, siem)


def by_device(rule: Rule, kb: AttackKB, targets: Iterable[GroupView]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Per device type, the target groups where that device alone feeds the rule (what a device-specific
    conversion pipeline, e.g. Sysmon field names, can reach)."""
    found: dict[str, list[str]] = {}
    for group in targets:
        for device_type in sorted(group.per_type):
            alone = group.only(device_type)
            if alone is not None and runs_in(rule, kb, alone) is not None:
                found.setdefault(device_type, []).append(group.name)
    return tuple((t, tuple(g)) for t, g in sorted(found.items()))


def runs_in(rule: Rule, kb: AttackKB, group: GroupView) -> str | None:
    """The rule's log source (as written) when the group collects everything it needs on a platform of the
    group; None otherwise. As strict as the pack's global filter: each need must name the devices that produce
    it, and the mapping tables must know the log source."""
    platforms = tuple(p for p in rule_platforms(rule, kb) if p in group.platforms)
    if not platforms or not group.device_types:
        return None
    for req in rule.log_sources:
        if req.mapped and all(need.device_types and need_met(need, group.telemetry, platforms)
                              for need in req.needs):
            return req.value
    return None


def healthy_groups(rule: Rule, kb: AttackKB, groups: Iterable[GroupView]) -> tuple[GroupView, ...]:
    return tuple(g for g in groups if runs_in(rule, kb, g) is not None)


def reach(targets: Sequence[GroupView], groups: Sequence[GroupView], platforms: Iterable[str]) -> float:
    """Hosts of the target groups / hosts of every group on those platforms (groups without a host count
    weigh 1)."""
    wanted = set(platforms)
    on_platform = [g for g in groups if wanted & set(g.platforms)]
    total = sum(max(g.hosts, 1) for g in on_platform)
    names = {t.name for t in targets}
    return round(sum(max(g.hosts, 1) for g in on_platform if g.name in names) / total, 3) if total else 0.0


@dataclass(frozen=True, slots=True)
class SplunkFeed:
    """Where a device type's events are in Splunk: ``index=`` and ``sourcetype=``, and where that came from."""

    index: str
    sourcetype: str
    origin: str  # "inventory: <device>" or "default (set feeds: for the device in the inventory)"

    @property
    def spl(self) -> str:
        return f'index={self.index} sourcetype="{self.sourcetype}"'


# Used until a device says where its logs are (``feeds: [{siem: splunk, index: …, sourcetype: …}]``): the Splunk
# Add-on for Microsoft Windows / Sysmon defaults, in the classic (non-XML) rendering the pySigma Splunk Windows
# pipeline's ``source="WinEventLog:…"`` matches.
DEFAULT_SPLUNK_FEEDS = {
    "sysmon": ("wineventlog", "WinEventLog"),
    "windows-security": ("wineventlog", "WinEventLog"),
    "powershell": ("wineventlog", "WinEventLog"),
}
DEFAULT_ORIGIN = "default (set feeds: for the device in the inventory)"


def splunk_feeds(inventory: Inventory, siem: str = "splunk") -> dict[str, SplunkFeed]:
    """Per catalogue device type in the inventory, the Splunk index/sourcetype its devices declare (``feeds:``),
    else the defaults above, else an index named after the device type (stated as a default to replace)."""
    types = {d.type for d in inventory.devices if d.type}
    out = {t: SplunkFeed(*DEFAULT_SPLUNK_FEEDS.get(t, (t.replace("-", "_"), "*")), DEFAULT_ORIGIN) for t in types}
    for device in inventory.devices:
        for feed in getattr(device, "feeds", None) or ():
            index, sourcetype = getattr(feed, "index", None), getattr(feed, "sourcetype", None)
            if device.type and getattr(feed, "siem", siem) in (siem, None) and index:
                out[device.type] = SplunkFeed(index, sourcetype or "*", f"inventory: {device.name}")
    return out
