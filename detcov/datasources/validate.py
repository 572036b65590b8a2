"""Checks of an inventory against the catalogue and the loaded ATT&CK version (beyond the schema).

Every finding is an :class:`~detcov.errors.Issue` located at ``file:line:col`` in the user's file, with a fix.
Errors: unknown catalogue types, unknown components / platforms / system groups, contradictory keys.
Warnings: settings not stated (assumed on), undocumented data quality, a device on no platform of its groups.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from detcov.attack import AttackKB
from detcov.datasources.catalog import Catalog, DeviceType
from detcov.datasources.inventory import ALL, DEFAULT_CRITICALITY, Device, Inventory
from detcov.datasources.products import device_product, load_products
from detcov.errors import Issue, Location, Severity
from detcov.userfiles import position


class _Reporter:
    def __init__(self, doc: Any, path: str | Path) -> None:
        self.doc = doc
        self.path = str(path)
        self.issues: list[Issue] = []

    def add(self, loc: Sequence[str | int], message: str, hint: str | None = None,
            severity: Severity = Severity.ERROR) -> None:
        line, col = position(self.doc, loc) if self.doc is not None else (None, None)
        self.issues.append(Issue(message, Location(self.path, line, col), hint, severity))


def _did_you_mean(value: str, options: Iterable[str], fallback: str) -> str:
    close = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else fallback


def check_inventory(inv: Inventory, kb: AttackKB, catalog: Catalog, doc: Any = None,
                    path: str | Path = "inventory.yaml") -> list[Issue]:
    """All problems of a schema-valid inventory, errors and warnings together."""
    r = _Reporter(doc, path)
    _check_groups(inv, kb, r)
    _check_siems(inv, r)
    names: dict[str, int] = {}
    for i, device in enumerate(inv.devices):
        if device.name in names:
            r.add(["devices", i, "name"],
                  f"device name {device.name!r} is used twice (also devices[{names[device.name]}])",
                  "give each device a unique name")
        names.setdefault(device.name, i)
        _check_device(i, device, inv, kb, catalog, r)
    return r.issues + platform_warnings(inv, catalog, doc, path)


def _check_groups(inv: Inventory, kb: AttackKB, r: _Reporter) -> None:
    seen: set[str] = set()
    if not inv.system_groups:
        r.add(["system_groups"], "no system groups", "add at least one (applicable_to + platforms)")
    for i, g in enumerate(inv.system_groups):
        if not g.platforms:
            r.add(["system_groups", i, "platforms"], f"system group {g.applicable_to!r} has no platforms",
                  "list its ATT&CK platforms, e.g. [Windows]")
        if g.applicable_to in seen:
            r.add(["system_groups", i, "applicable_to"], f"system group {g.applicable_to!r} is defined twice",
                  "merge the two entries")
        if g.applicable_to.casefold() == ALL:
            r.add(["system_groups", i, "applicable_to"], "'all' is reserved",
                  "name the group after its systems")
        seen.add(g.applicable_to)
        for j, p in enumerate(g.platforms):
            if p not in kb.platforms:
                r.add(["system_groups", i, "platforms", j], f"unknown ATT&CK platform {p!r}",
                      _did_you_mean(p, kb.platforms, f"use one of: {', '.join(kb.platforms)}"))


def _check_siems(inv: Inventory, r: _Reporter) -> None:
    if not inv.siems:
        r.add(["system_groups"], "no SIEM instances declared: every 'siem: true' device feeds one implicit SIEM "
              "and every rule runs on it", "list them under 'siems:' (id, product) and say per device which SIEM(s) "
              "receive its logs", Severity.WARNING)
    missing = [g.applicable_to for g in inv.system_groups if g.criticality is None]
    if missing:
        r.add(["system_groups"], f"criticality not stated for {len(missing)} system group(s) ({', '.join(missing[:4])}"
              f"{' …' if len(missing) > 4 else ''}): {DEFAULT_CRITICALITY} assumed",
              "set 'criticality: 1..5' (5 = crown jewel such as core banking or SWIFT)", Severity.WARNING)
    ids = set(inv.siem_ids)
    for i, d in enumerate(inv.devices):
        at: list[str | int] = ["devices", i]
        if isinstance(d.siem, tuple):
            for j, s in enumerate(d.siem):
                if s not in ids:
                    r.add([*at, "siem", j], f"unknown SIEM {s!r}", _did_you_mean(s, ids, f"declare it under siems: "
                          f"(known: {', '.join(sorted(ids))})"))
        elif d.siem is True and len(inv.siems) > 1:
            r.add([*at, "siem"], f"device {d.name!r}: 'siem: true' sends its logs to all {len(inv.siems)} SIEMs",
                  "list the SIEM ids that really receive them, e.g. siem: [splunk]", Severity.WARNING)
        for j, f in enumerate(d.feeds):
            if f.siem not in ids:
                r.add([*at, "feeds", j, "siem"], f"unknown SIEM {f.siem!r}", "use a SIEM id from siems:")


def _check_device(i: int, d: Device, inv: Inventory, kb: AttackKB, catalog: Catalog, r: _Reporter) -> None:
    at: list[str | int] = ["devices", i]
    dtype = catalog.get(d.type) if d.type else None
    if d.type and dtype is None:
        r.add([*at, "type"], f"unknown device type {d.type!r}",
              _did_you_mean(d.type, catalog.ids,
                            "see `detcov catalog list`, or drop 'type' and list 'components'"))
    if d.type is None and not d.components:
        r.add(at, f"device {d.name!r} has neither a catalogue 'type' nor 'components'",
              "set 'type' (see `detcov catalog list`) or list what it delivers under 'components'")
    if d.type is not None and d.components:
        r.add([*at, "components"], "'components' is only for devices without a catalogue type",
              "use 'extra_components' / 'missing_components' to adjust a catalogue type")
    for key in ("components", "missing_components", "extra_components"):
        for j, name in enumerate(getattr(d, key)):
            _check_component(name, [*at, key, j], kb, r)
    if dtype is not None:
        _check_against_type(d, dtype, at, kb, r)
    _check_applicable_to(d, at, inv, r)
    if not d.data_quality.known:
        r.add([*at, "data_quality"] if "data_quality" in _keys(r.doc, at) else at,
              f"device {d.name!r}: data quality not documented; scored as 'Fair' (2 of 4)",
              "rate the five DeTT&CT dimensions 1-5", Severity.WARNING)
    if d.siem_since is not None and not d.siem:
        r.add([*at, "siem_since"], "'siem_since' is set but 'siem' is false", "remove one of them")
    _check_product(d, at, r)


def _check_product(d: Device, at: list[str | int], r: _Reporter) -> None:
    products = load_products()
    if d.product_id and products.get(d.product_id) is None:
        r.add([*at, "product_id"], f"unknown product_id {d.product_id!r}",
              _did_you_mean(d.product_id, [p.id for p in products.entries], "see detcov/datasources/products.yaml"))
        return
    typed = {t for p in products.entries for t in p.types}
    key, _ = device_product(d.product_id, d.type, d.vendor, d.product, d.name)
    if key is None and d.type in typed and (d.vendor or d.product):
        r.add(at, f"device {d.name!r}: product not recognised; vendor-specific rules for {d.type} cannot be verified "
              "against it", "set 'product_id' (see detcov/datasources/products.yaml)", Severity.WARNING)


def _check_component(name: str, loc: list[str | int], kb: AttackKB, r: _Reporter) -> None:
    dc = kb.data_component(name)
    if dc is None:
        names = [c.name for c in kb.data_components()]
        r.add(loc, f"unknown data component {name!r} in ATT&CK {kb.version}",
              _did_you_mean(name, names, "use an ATT&CK data component name, e.g. 'Process Creation'"))
    elif not dc.active:
        r.add(loc, f"data component {name!r} is deprecated in ATT&CK {kb.version}", "remove it",
              Severity.WARNING)


def _check_against_type(d: Device, dtype: DeviceType, at: list[str | int], kb: AttackKB,
                        r: _Reporter) -> None:
    provided = {dc.stix_id for c in dtype.components if (dc := kb.data_component(c.component))}
    for j, name in enumerate(d.missing_components):
        dc = kb.data_component(name)
        if dc is not None and dc.stix_id not in provided:
            r.add([*at, "missing_components", j], f"type {dtype.id!r} does not list {name!r} anyway",
                  "remove it from missing_components", Severity.WARNING)
    known = set(dtype.setting_ids)
    for key in d.settings:
        if key not in known:
            r.add([*at, "settings", key], f"type {dtype.id!r} has no setting {key!r}",
                  _did_you_mean(key, known, f"settings of {dtype.id}: {', '.join(sorted(known)) or 'none'}"))
    for sid in dtype.setting_ids:
        if sid not in d.settings:
            r.add([*at, "settings"] if d.settings else at,
                  f"device {d.name!r}: setting {sid!r} not stated; assumed on",
                  f"state '{sid}: true' or false ({_setting_text(dtype, sid)})", Severity.WARNING)
    if d.blocking and not dtype.can_block:
        r.add([*at, "blocking"], f"type {dtype.id!r} cannot block", "remove 'blocking'")
    if d.blocking is None and dtype.can_block:
        r.add(at, f"device {d.name!r}: 'blocking' not stated; assumed off",
              "state 'blocking: true' if it runs in blocking/prevention mode", Severity.WARNING)


def _setting_text(dtype: DeviceType, sid: str) -> str:
    return next((s.description for s in dtype.settings if s.id == sid), "")


def _check_applicable_to(d: Device, at: list[str | int], inv: Inventory, r: _Reporter) -> None:
    groups = [g.applicable_to for g in inv.system_groups]
    if ALL in d.applicable_to and len(d.applicable_to) > 1:
        r.add([*at, "applicable_to"], "'all' cannot be combined with other system groups", "keep only 'all'")
    for j, g in enumerate(d.applicable_to):
        if g != ALL and g not in groups:
            r.add([*at, "applicable_to", j], f"unknown system group {g!r}",
                  _did_you_mean(g, groups, f"define it under system_groups (known: {', '.join(groups)})"))


def _keys(doc: Any, loc: Sequence[str | int]) -> set[str]:
    node = doc
    try:
        for k in loc:
            node = node[k]
    except (KeyError, IndexError, TypeError):
        return set()
    return set(node) if hasattr(node, "keys") else set()


def platform_warnings(inv: Inventory, catalog: Catalog, doc: Any = None, path: str | Path = "inventory.yaml"
                      ) -> list[Issue]:
    """Devices whose type has no platform in common with a group they cover (no telemetry credited there)."""
    r = _Reporter(doc, path)
    for i, d in enumerate(inv.devices):
        dtype = catalog.get(d.type) if d.type else None
        if dtype is None or dtype.platforms is None:
            continue
        for j, name in enumerate(d.applicable_to):
            g = inv.group(name)
            if g is not None and not set(g.platforms) & set(dtype.platforms):
                r.add(["devices", i, "applicable_to", j],
                      f"{d.name!r} ({dtype.id}: {', '.join(dtype.platforms)}) gives no telemetry on {name!r} "
                      f"({', '.join(g.platforms)})", "remove the group or pick another type",
                      Severity.WARNING)
    return r.issues
