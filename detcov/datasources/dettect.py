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
from detcov.errors import DetcovError, Issue, Location, Severity
from detcov.fileio import atomic_write
from detcov.userfiles import check_header, load_yaml, position

DETTECT_FILE_TYPE = "data-source-administration"
DETTECT_VERSIONS = ("1.0", "1.1")
_OWN = re.compile(r"^(?P<name>.+?)\s*\[DeTT&CT data source\]\s*$", re.IGNORECASE)


def _own_sources(catalog: Catalog) -> dict[str, str]:
    """DeTT&CT's own data-source names (folded) -> catalogue type id."""
    return {t.dettect_data_source.casefold(): t.id for t in catalog.types if t.dettect_data_source}


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def import_dettect(path: str | Path, kb: AttackKB, catalog: Catalog) -> tuple[dict[str, Any], list[Issue]]:
    """A DeTT&CT data-source administration file as an inventory document (a plain dict), plus its issues.

    Validate the result with :class:`Inventory` (``Inventory.model_validate``) or write it with ``save_yaml``.
    """
    data = load_yaml(path)
    header = check_header(data, path, DETTECT_FILE_TYPE, DETTECT_VERSIONS)
    if header:
        raise DetcovError(issues=header)
    issues: list[Issue] = []
    groups = [_system(s, kb) for s in data.get("systems") or []]
    devices: dict[tuple[Any, ...], dict[str, Any]] = {}
    own = _own_sources(catalog)
    for i, entry in enumerate(data.get("data_sources") or []):
        name = str(entry.get("data_source_name", "")).strip()
        at: list[str | int] = ["data_sources", i, "data_source_name"]
        match = _OWN.match(name)
        type_id = own.get(match.group("name").casefold()) if match else None
        dc = None if match else kb.data_component(name)
        if type_id is None and (dc is None or not dc.active):
            line, col = position(data, at)
            issues.append(Issue(f"data source {name!r} is not a data component of ATT&CK {kb.version}; "
                                "skipped",
                                Location(str(path), line, col), "add it by hand if a device delivers it",
                                Severity.WARNING))
            continue
        for detail in entry.get("data_source") or []:
            _add_detail(devices, detail, type_id, dc.name if dc else None, name)
    if data.get("exceptions"):
        line, col = position(data, ["exceptions"])
        issues.append(Issue(f"{len(data['exceptions'])} technique exception(s) not imported",
                            Location(str(path), line, col),
                            "record them in the technique-scores file instead", Severity.INFO))
    doc = {"version": 1, "file_type": "inventory", "name": str(data.get("name") or Path(path).stem),
           "description": f"Imported from the DeTT&CT data-source administration file {Path(path).name}.",
           "system_groups": groups, "devices": _named(list(devices.values()))}
    return doc, issues


def _system(system: Mapping[str, Any], kb: AttackKB) -> dict[str, Any]:
    platforms = [str(p) for p in system.get("platform") or []]
    if any(p.casefold() == ALL for p in platforms):
        platforms = [p for p in kb.platforms if p != "PRE"]
    known = {p.casefold(): p for p in kb.platforms}
    return {"applicable_to": str(system.get("applicable_to")),
            "platforms": [known.get(p.casefold(), p) for p in platforms]}


def _add_detail(devices: dict[tuple[Any, ...], dict[str, Any]], detail: Mapping[str, Any],
                type_id: str | None, component: str | None, source_name: str) -> None:
    quality = {d: int((detail.get("data_quality") or {}).get(d) or 0) for d in DQ_DIMENSIONS}
    products = [str(p) for p in detail.get("products") or []] or [f"unnamed product ({source_name})"]
    applicable = [str(a) for a in detail.get("applicable_to") or [ALL]]
    siem = bool(detail.get("available_for_data_analytics", True))
    since = _date(detail.get("date_connected"))
    for product in products:
        key = (product, type_id, tuple(applicable), tuple(quality.values()), siem)
        device = devices.setdefault(key, {"name": product, "product": product, "applicable_to": applicable})
        if type_id is not None:
            device["type"] = type_id
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
    """The inventory as a DeTT&CT data-source administration file (v1.1) that DeTT&CT accepts."""
    today = today or dt.date.today()
    entries: dict[str, list[dict[str, Any]]] = {}
    for device in inventory.devices:
        resolved = resolve_device(device, kb, catalog)
        names = [dc.name for stix in resolved.components if (dc := kb.data_component(stix)) is not None]
        dtype = catalog.get(device.type) if device.type else None
        if dtype is not None and dtype.dettect_data_source:
            names.append(f"{dtype.dettect_data_source} [DeTT&CT data source]")
        for name in names:
            entries.setdefault(name, []).append(_detail(device, today))
    return {
        "version": 1.1,
        "file_type": DETTECT_FILE_TYPE,
        "name": inventory.name or "detcov inventory",
        "domain": "enterprise-attack",
        "systems": [{"applicable_to": g.applicable_to, "platform": list(g.platforms)}
                    for g in inventory.system_groups],
        "data_sources": [{"data_source_name": n, "data_source": d} for n, d in sorted(entries.items())],
        "notes": "Exported by detcov from its inventory; one detail object per device.",
        "exceptions": [],
    }


def _detail(device: Any, today: dt.date) -> dict[str, Any]:
    product = " ".join(p for p in (device.vendor, device.product) if p) or device.name
    return {
        "applicable_to": list(device.applicable_to),
        "date_registered": device.siem_since or today,
        "date_connected": device.siem_since if device.siem else None,
        "products": [product],
        "available_for_data_analytics": bool(device.siem),
        "comment": f"detcov device: {device.name}" + (f" ({device.type})" if device.type else ""),
        "data_quality": {d: getattr(device.data_quality, d) for d in DQ_DIMENSIONS},
    }
