"""DeTT&CT interop: data-source administration files (``file_type: data-source-administration``) ⇄ inventory.

DeTT&CT keeps one entry per *data component* with detail objects per product; detcov keeps one entry per
*device*. Import groups the detail objects by product (and scope, quality, SIEM state) into devices with an
explicit component list; DeTT&CT's own data sources (Web, Internal DNS, Email, DHCP) become devices of the
matching catalogue type. Export writes every component each device delivers back as detail objects, with all
the keys DeTT&CT's health check asks for. Nothing is dropped silently: skipped entries come back as issues.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from detcov.attack import AttackKB
from detcov.datasources.catalog import Catalog
from detcov.datasources.inventory import ALL, DQ_DIMENSIONS, Inventory, resolve_device
from detcov.datasources.techadmin import parse_date, shown
from detcov.errors import DetcovError, Issue, Location, Severity
from detcov.fileio import atomic_write
from detcov.userfiles import check_header, load_yaml, position

DETTECT_FILE_TYPE = "data-source-administration"
DETTECT_VERSIONS = ("1.0", "1.1")
_OWN = re.compile(r"^(?P<name>.+?)\s*\[DeTT&CT data source\]\s*$", re.IGNORECASE)


def _own_sources(catalog: Catalog) -> dict[str, str]:
    """DeTT&CT's own data-source names (folded) -> catalogue type id."""
    return {t.dettect_data_source.casefold(): t.id for t in catalog.types if t.dettect_data_source}


def _shape_issues(data: Any, path: str | Path) -> list[Issue]:
    """What DeTT&CT's health check would refuse, and what would make the import guess: lists that are scalars,
    detail objects that are not mappings, data-quality scores outside 0..5. Each at its line with the fix."""
    issues: list[Issue] = []

    def bad(loc: list[str | int], message: str, hint: str) -> None:
        line, col = position(data, loc)
        issues.append(Issue(message, Location(str(path), line, col), hint))

    for key in ("systems", "data_sources", "exceptions"):
        if data.get(key) is not None and not isinstance(data[key], list):
            bad([key], f"{key} is {shown(data[key])}, not a list", f"write one '- ...' item per entry under '{key}:'")
    for i, entry in enumerate(data.get("data_sources") if isinstance(data.get("data_sources"), list) else []):
        if not isinstance(entry, Mapping):
            bad(["data_sources", i], f"data source item {i + 1} is {shown(entry)}, not a mapping",
                "give it 'data_source_name:' and 'data_source:' (a list of detail objects)")
            continue
        details = entry.get("data_source")
        items = details if isinstance(details, list) else [details] if isinstance(details, Mapping) else None
        if items is None:
            bad(["data_sources", i, "data_source"], f"data_source is {shown(details)}, not a list of detail objects",
                "list detail objects with applicable_to, products, data_quality, …")
            continue
        for j, detail in enumerate(items):
            at: list[str | int] = ["data_sources", i, "data_source", *([j] if isinstance(details, list) else [])]
            if not isinstance(detail, Mapping):
                bad(at, f"detail object is {shown(detail)}, not a mapping", "give it applicable_to, products, …")
                continue
            for key in ("applicable_to", "products"):
                if detail.get(key) is not None and not isinstance(detail[key], list):
                    bad([*at, key], f"{key} is {shown(detail[key])}, not a list", f"write it as a list: {key}: [...]")
            quality = detail.get("data_quality")
            if quality is not None and not isinstance(quality, Mapping):
                bad([*at, "data_quality"], "data_quality is not a mapping", "give the five 0..5 dimension scores")
            for dim, score in (quality.items() if isinstance(quality, Mapping) else ()):
                if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 5:
                    bad([*at, "data_quality", str(dim)], f"data quality {dim} is {shown(score)}",
                        "use a whole number from 0 (unknown) to 5 (excellent)")
    return issues


def import_dettect(path: str | Path, kb: AttackKB, catalog: Catalog) -> tuple[dict[str, Any], list[Issue]]:
    """A DeTT&CT data-source administration file as an inventory document (a plain dict), plus its issues.

    DeTT&CT's semantics are kept: its own data sources (Web, Internal DNS, Email, DHCP) count in DeTT&CT for a
    fixed list of techniques only, so they become devices of the matching catalogue type *without* data
    components (they do not grant the type's components to every technique; add what the device really delivers);
    ``exceptions`` are kept as the inventory's ``exceptions``. Validate the result with :class:`Inventory`
    (``Inventory.model_validate``) or write it with ``save_yaml``.
    """
    data = load_yaml(path)
    header = check_header(data, path, DETTECT_FILE_TYPE, DETTECT_VERSIONS)
    if header:
        raise DetcovError(issues=header)
    shape = _shape_issues(data, path)
    if shape:
        raise DetcovError(issues=shape)
    issues: list[Issue] = []
    groups = [_system(s, kb) for s in data.get("systems") or [] if isinstance(s, Mapping)]
    devices: dict[tuple[Any, ...], dict[str, Any]] = {}
    own = _own_sources(catalog)
    for i, entry in enumerate(data.get("data_sources") or []):
        name = str(entry.get("data_source_name", "")).strip()
        at: list[str | int] = ["data_sources", i, "data_source_name"]
        match = _OWN.match(name)
        type_id = own.get(match.group("name").casefold()) if match else None
        dc = None if match else kb.data_component(name)
        line, col = position(data, at)
        if type_id is None and (dc is None or not dc.active):
            issues.append(Issue(f"data source {name!r} is not a data component of ATT&CK {kb.version}; "
                                "skipped",
                                Location(str(path), line, col), "add it by hand if a device delivers it",
                                Severity.WARNING))
            continue
        if type_id is not None:
            issues.append(Issue(f"{name}: DeTT&CT counts it for its own technique list only; imported as a "
                                f"'{type_id}' device without data components", Location(str(path), line, col),
                                "list the components it really delivers under 'extra_components'",
                                Severity.INFO))
        details = entry.get("data_source")
        for detail in details if isinstance(details, list) else [details] if details else []:
            _add_detail(devices, detail, type_id, dc.name if dc else None, name, catalog)
    exceptions = [_exception(e) for e in data.get("exceptions") or [] if _exception(e)]
    doc = {"version": 1, "file_type": "inventory", "name": str(data.get("name") or Path(path).stem),
           "description": f"Imported from the DeTT&CT data-source administration file {Path(path).name}.",
           "system_groups": groups, "devices": _named(list(devices.values()))}
    if exceptions:
        doc["exceptions"] = exceptions
    return doc, issues


def _exception(entry: Any) -> dict[str, str] | None:
    tid = entry.get("technique_id") if isinstance(entry, Mapping) else entry
    if not isinstance(tid, str) or not tid.strip() or tid.strip() == "None":
        return None
    out = {"technique_id": tid.strip()}
    if isinstance(entry, Mapping) and entry.get("name"):
        out["name"] = str(entry["name"])
    return out


def _system(system: Mapping[str, Any], kb: AttackKB) -> dict[str, Any]:
    platforms = [str(p) for p in system.get("platform") or []]
    if any(p.casefold() == ALL for p in platforms):
        platforms = [p for p in kb.platforms if p != "PRE"]
    known = {p.casefold(): p for p in kb.platforms}
    return {"applicable_to": str(system.get("applicable_to")),
            "platforms": [known.get(p.casefold(), p) for p in platforms]}


def _add_detail(devices: dict[tuple[Any, ...], dict[str, Any]], detail: Mapping[str, Any],
                type_id: str | None, component: str | None, source_name: str, catalog: Catalog) -> None:
    quality = {d: int((detail.get("data_quality") or {}).get(d) or 0) for d in DQ_DIMENSIONS}
    products = [str(p) for p in detail.get("products") or []] or [f"unnamed product ({source_name})"]
    applicable = [str(a) for a in detail.get("applicable_to") or [ALL]]
    siem = bool(detail.get("available_for_data_analytics", True))
    since = parse_date(detail.get("date_connected"))
    for product in products:
        key = (product, type_id, tuple(applicable), tuple(quality.values()), siem)
        device = devices.setdefault(key, {"name": product, "product": product, "applicable_to": applicable})
        if type_id is not None:
            device["type"] = type_id
            dtype = catalog.get(type_id)
            device["missing_components"] = [c.component for c in dtype.components] if dtype else []
        elif component is not None and component not in device.setdefault("components", []):
            device["components"].append(component)
        device["data_quality"] = quality
        device["siem"] = siem
        if since is not None and siem:
            device["siem_since"] = min(since, device.get("siem_since") or since)
        if detail.get("comment"):
            device["comment"] = str(detail["comment"])


def _named(devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unique device names: the product, then the product with its scope, then a counter."""
    seen: dict[str, int] = {}
    for d in devices:
        name = d["name"]
        if sum(1 for o in devices if o["name"] == name) > 1:
            name = f"{name} ({d.get('type') or ', '.join(d['applicable_to'])})"
        seen[name] = seen.get(name, 0) + 1
        d["name"] = name if seen[name] == 1 else f"{name} #{seen[name]}"
    return devices


def to_yaml(doc: Mapping[str, Any]) -> str:
    """YAML text without anchors/aliases (DeTT&CT and people read it), keys in insertion order."""
    y = YAML(typ="rt")
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    y.representer.ignore_aliases = lambda *_: True
    buf = io.StringIO()
    y.dump(dict(doc), buf)
    return buf.getvalue()


def write_yaml(path: str | Path, doc: Mapping[str, Any]) -> None:
    atomic_write(Path(path), to_yaml(doc).encode("utf-8"))


def export_dettect(inventory: Inventory, kb: AttackKB, catalog: Catalog,
                   today: dt.date | None = None) -> dict[str, Any]:
    """The inventory as a DeTT&CT data-source administration file (v1.1) that passes DeTT&CT's health check.

    DeTT&CT allows a system in only one detail object per data source, so there is one detail object per
    (data source, system) listing every product that delivers it there; a component limited to some platforms
    (a Windows-only event on an EDR) is exported only for the systems that run one of them; ``exceptions`` are
    written only when there are some (DeTT&CT's check fails on an empty list).
    """
    today = today or dt.date.today()
    systems = {g.applicable_to: set(g.platforms) for g in inventory.system_groups}
    sources: dict[str, dict[str, list[Any]]] = {}
    for device in inventory.devices:
        targets = list(systems) if ALL in device.applicable_to else [a for a in device.applicable_to if a in systems]
        for name, platforms in _delivered(device, kb, catalog):
            for system in targets:
                if platforms is None or systems[system] & set(platforms):
                    sources.setdefault(name, {}).setdefault(system, []).append(device)
    doc: dict[str, Any] = {
        "version": 1.1,
        "file_type": DETTECT_FILE_TYPE,
        "name": inventory.name or "detcov inventory",
        "domain": "enterprise-attack",
        "systems": [{"applicable_to": g.applicable_to, "platform": list(g.platforms)}
                    for g in inventory.system_groups],
        "data_sources": [{"data_source_name": n, "data_source": [_detail(system, devs, today)
                                                                for system, devs in by_system.items()]}
                         for n, by_system in sorted(sources.items())],
        "notes": "Exported by detcov from its inventory; one detail object per data source and system.",
    }
    if inventory.exceptions:
        doc["exceptions"] = [{"technique_id": e.technique_id, **({"name": e.name} if e.name else {})}
                             for e in inventory.exceptions]
    return doc


def _delivered(device: Any, kb: AttackKB, catalog: Catalog) -> list[tuple[str, tuple[str, ...] | None]]:
    """(DeTT&CT data source name, platforms it counts on or None) for everything a device delivers."""
    resolved = resolve_device(device, kb, catalog)
    out = [(dc.name, platforms) for stix, platforms in resolved.components.items()
           if (dc := kb.data_component(stix)) is not None]
    dtype = catalog.get(device.type) if device.type else None
    if dtype is not None and dtype.dettect_data_source:
        out.append((f"{dtype.dettect_data_source} [DeTT&CT data source]", dtype.platforms))
    return out


def _detail(system: str, devices: list[Any], today: dt.date) -> dict[str, Any]:
    best = max(devices, key=lambda d: sum(getattr(d.data_quality, q) for q in DQ_DIMENSIONS))
    connected = [d.siem_since for d in devices if d.siem and d.siem_since]
    registered = [d.siem_since for d in devices if d.siem_since]
    products = dict.fromkeys(" ".join(p for p in (d.vendor, d.product) if p) or d.name for d in devices)
    return {
        "applicable_to": [system],
        "date_registered": min(registered) if registered else today,
        "date_connected": min(connected) if connected else None,
        "products": list(products),
        "available_for_data_analytics": any(d.siem for d in devices),
        "comment": "detcov device(s): " + ", ".join(d.name + (f" ({d.type})" if d.type else "") for d in devices),
        "data_quality": {q: getattr(best.data_quality, q) for q in DQ_DIMENSIONS},
    }
