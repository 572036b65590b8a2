"""What a rule's log-source requirement means: mapping tables (package data) → data components / device types.

The tables live in ``detcov/rules/mappings/*.yaml`` so a user can review them (each entry carries its
evidence):

* ``sigma.yaml``    Sigma ``logsource`` product/category/service
* ``splunk.yaml``   ESCU ``data_source`` names and CIM data models
* ``elastic.yaml``  Elastic index patterns and Fleet integration names
* ``sentinel.yaml`` Sentinel connectors and KQL tables (also Defender XDR tables)

Data components are written by name and resolved once through the loaded ATT&CK (``kb.data_component``), so
the
tables work on v17 and v18. :func:`mapper_for` gives the per-knowledge-base :class:`LogSourceMapper`
(memoised);
:func:`sigma_logsource` maps one Sigma ``logsource`` (the rule-pack suggester reuses it on the whole corpus).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import Field

from detcov.attack import AttackKB, IdResolution
from detcov.errors import DetcovError
from detcov.rules.model import LogSourceNeed
from detcov.userfiles import UserModel, validate_model

TABLES = ("sigma", "splunk", "elastic", "sentinel")
DEVICE_TYPES: frozenset[str] = frozenset(
    ["firewall", "ngfw", "ids-ips", "waf", "web-proxy", "email-gateway", "dns", "dhcp", "vpn", "ndr",
     "edr", "antivirus", "sandbox", "active-directory", "windows-security", "sysmon", "powershell",
     "linux-auditd", "dlp", "pam", "database-audit", "aws-cloudtrail", "azure-entra-m365", "gcp-audit",
     "mfa-idp", "mdm", "core-banking", "swift-payment", "network-devices"]
)


class MapEntry(UserModel):
    key: str | None = None
    pattern: str | None = None
    prefix: str | None = None
    components: tuple[str, ...] = ()
    device_types: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    products: tuple[str, ...] = ()  # product keys (detcov/datasources/products.yaml) a vendor-specific source needs
    evidence: str


class MapTable(UserModel):
    version: int
    file_type: str = Field(pattern="^rule-logsource-map$")
    source: str
    entries: tuple[MapEntry, ...]


@cache
def load_table(name: str) -> MapTable:
    """One mapping table from the package (validated; unknown keys are errors)."""
    ref = resources.files("detcov.rules").joinpath("mappings", f"{name}.yaml")
    data: Any = yaml.load(ref.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return validate_model(MapTable, data, str(ref))


def fold(text: str) -> str:
    return " ".join(text.casefold().split())


class LogSourceMapper:
    """Looks log-source names up in the tables, for one ATT&CK version; every answer is memoised."""

    def __init__(self, kb: AttackKB) -> None:
        self.kb = kb
        self._memo: dict[tuple[str, str], LogSourceNeed] = {}
        self._exact: dict[str, dict[str, MapEntry]] = {}
        self._patterns: dict[str, list[tuple[re.Pattern[str], MapEntry]]] = {}
        self._prefixes: dict[str, list[tuple[str, MapEntry]]] = {}
        self.unresolved_components: set[str] = set()
        self.resolutions: dict[str, IdResolution] = {}  # technique ids as written → resolution (ReadContext)
        self.tactics: dict[str, str | None] = {}
        for name in TABLES:
            table = load_table(name)
            self._exact[name] = {fold(e.key): e for e in table.entries if e.key is not None}
            self._patterns[name] = [
                (re.compile(e.pattern, re.IGNORECASE), e) for e in table.entries if e.pattern
            ]
            self._prefixes[name] = sorted(
                ((e.prefix.lower(), e) for e in table.entries if e.prefix), key=lambda p: -len(p[0])
            )

    def _components(self, names: Iterable[str]) -> frozenset[str]:
        out: set[str] = set()
        for name in names:
            dc = self.kb.data_component(name)
            if dc is None:
                self.unresolved_components.add(name)
            else:
                out.add(dc.stix_id)
        return frozenset(out)

    def _need(self, label: str, entries: Iterable[MapEntry | None]) -> LogSourceNeed:
        found = [e for e in entries if e is not None]
        device_types = next((e.device_types for e in found if e.device_types), ())
        platforms = next((e.platforms for e in found if e.platforms), ())
        products = next((e.products for e in found if e.products), ())
        comps = self._components(c for e in found for c in e.components)
        return LogSourceNeed(label, comps, frozenset(device_types), platforms, frozenset(products))

    def _find(self, table: str, name: str) -> MapEntry | None:
        key = fold(name)
        hit = self._exact[table].get(key)
        if hit is not None:
            return hit
        for pattern, entry in self._patterns[table]:
            if pattern.fullmatch(key):
                return entry
        return None

    def lookup(self, table: str, name: str) -> LogSourceNeed:
        """A name (ESCU data source, Sentinel connector or table, Elastic integration) in one table."""
        memo_key = (table, name)
        need = self._memo.get(memo_key)
        if need is None:
            need = self._need(name, (self._find(table, name),))
            if not need.mapped and table == "sentinel" and name.strip().lower().endswith("_cl"):
                need = LogSourceNeed(name, custom_table=name.strip())  # a custom table: the SIEM must declare it
            self._memo[memo_key] = need
        return need

    def elastic_index(self, pattern: str) -> LogSourceNeed:
        """An Elastic index pattern, by longest matching prefix."""
        memo_key = ("elastic-index", pattern)
        need = self._memo.get(memo_key)
        if need is None:
            stem = pattern.strip().lower().rstrip("*")
            entry = next((e for p, e in self._prefixes["elastic"] if stem.startswith(p)), None)
            need = self._memo[memo_key] = self._need(pattern, (entry,))
        return need

    def any_name(self, name: str) -> LogSourceNeed:
        """A free-text log source (CSV inventories): a device type id, a data component name, or a name from
        any
        table (ESCU data source, Sentinel connector/table, Elastic integration or index)."""
        memo_key = ("any", name)
        need = self._memo.get(memo_key)
        if need is None:
            dc = self.kb.data_component(name)
            if name.strip().lower() in DEVICE_TYPES:
                need = LogSourceNeed(name, device_types=frozenset({name.strip().lower()}))
            elif dc is not None:
                need = LogSourceNeed(name, components=frozenset({dc.stix_id}))
            else:
                tries = (
                    self.lookup("splunk", name),
                    self.lookup("sentinel", name),
                    self.lookup("elastic", name),
                    self.elastic_index(name),
                )
                need = next((n for n in tries if n.mapped), LogSourceNeed(name))
            self._memo[memo_key] = need
        return need

    def sigma(self, product: str | None, category: str | None, service: str | None) -> LogSourceNeed:
        """One Sigma ``logsource``: components of the category and the service, device types of the most
        specific
        matching entry, platforms of the product."""
        p, c, s = (fold(x) if isinstance(x, str) else "" for x in (product, category, service))
        memo_key = ("sigma", f"{p}/{c}/{s}")
        need = self._memo.get(memo_key)
        if need is None:
            exact = self._exact["sigma"]
            label = " ".join(f"{k}:{v}" for k, v in (("product", p), ("category", c), ("service", s)) if v)
            specific = [exact.get(k) for k in (f"{p}/{c}/{s}", f"{p}/{c}/", f"{p}//{s}") if k.count("/") == 2]
            generic = [exact.get(f"/{c}/") if c else None, exact.get(f"{p}//") if p else None]
            need = self._memo[memo_key] = self._need(label or "(empty logsource)", [*specific, *generic])
        return need


_MAPPERS: weakref.WeakKeyDictionary[AttackKB, LogSourceMapper] = weakref.WeakKeyDictionary()


def mapper_for(kb: AttackKB) -> LogSourceMapper:
    """The memoised mapper of one knowledge base (tables parsed once per process)."""
    mapper = _MAPPERS.get(kb)
    if mapper is None:
        mapper = _MAPPERS[kb] = LogSourceMapper(kb)
    return mapper


def sigma_logsource(
    kb: AttackKB, product: str | None = None, category: str | None = None, service: str | None = None
) -> LogSourceNeed:
    """Map one Sigma ``logsource`` (product/category/service) to data components, device types and
    platforms."""
    return mapper_for(kb).sigma(product, category, service)


def check_tables(kb: AttackKB) -> list[str]:
    """Problems in the shipped tables against one ATT&CK version: unknown components or device types."""
    problems: list[str] = []
    for name in TABLES:
        try:
            table = load_table(name)
        except DetcovError as exc:
            problems.extend(str(i) for i in exc.issues)
            continue
        for entry in table.entries:
            where = f"{name}.yaml {entry.key or entry.pattern or entry.prefix}"
            problems += [
                f"{where}: unknown data component {c!r}"
                for c in entry.components
                if kb.data_component(c) is None
            ]
            problems += [
                f"{where}: unknown device type {d!r}" for d in entry.device_types if d not in DEVICE_TYPES
            ]
            problems += [f"{where}: unknown platform {p!r}" for p in entry.platforms if p not in kb.platforms]
    return problems
