"""What the institution really delivers to its SIEM: the contract between the inventory and everything else.

The inventory (``detcov.datasources.inventory``) produces a :class:`CollectedTelemetry`; rule health
(``detcov.rules.health``), the coverage engine and the rule-pack suggester only read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ANY_PLATFORM = "*"


def fold(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class CollectedTelemetry:
    """Data components, log sources and device types that reach the SIEM, per ATT&CK platform.

    ``components`` and ``log_sources`` map an ATT&CK platform (``Windows``, ``Linux``, ``IaaS`` …) to the
    STIX ids of the data components / the folded log-source names collected for the system groups on that
    platform. Only devices whose logs reach the SIEM count.
    """

    components: Mapping[str, frozenset[str]] = field(default_factory=dict)
    log_sources: Mapping[str, frozenset[str]] = field(default_factory=dict)
    device_types: frozenset[str] = frozenset()

    def has_component(self, data_component: str, platform: str | None = None) -> bool:
        if platform is None:
            return any(data_component in dcs for dcs in self.components.values())
        return data_component in self.components.get(platform, frozenset()) or data_component in \
            self.components.get(ANY_PLATFORM, frozenset())

    def has_log_source(self, name: str, platform: str | None = None) -> bool:
        key = fold(name)
        if platform is None:
            return any(key in names for names in self.log_sources.values())
        return key in self.log_sources.get(platform, frozenset()) or key in \
            self.log_sources.get(ANY_PLATFORM, frozenset())

    def has_device_type(self, device_type: str) -> bool:
        return device_type in self.device_types

    @property
    def platforms(self) -> frozenset[str]:
        return frozenset(p for p in self.components if p != ANY_PLATFORM)
