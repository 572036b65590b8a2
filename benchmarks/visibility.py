"""Visibility scoring vs ATT&CK load: 30 devices × 10 system groups on v18.1, medians and ratios side by side.

Run: .venv/bin/python benchmarks/visibility.py [path/to/enterprise-attack-18.1.json]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from detcov.attack import load_attack
from detcov.datasources.catalog import load_catalog
from detcov.datasources.inventory import DataQuality, Device, Inventory, SystemGroup
from detcov.datasources.visibility import _INDEX, score_visibility

BUNDLE = Path(sys.argv[1]) if len(sys.argv) > 1 else (
    Path(__file__).resolve().parent.parent.parent / "shared" / "attack" / "enterprise-attack-18.1.json")

GROUPS = (
    ("Workstations HQ", ("Windows",)), ("Workstations branches", ("Windows",)), ("Windows servers", ("Windows",)),
    ("SWIFT zone", ("Windows",)), ("Linux servers", ("Linux",)), ("Core banking", ("Linux",)),
    ("Mac fleet", ("macOS",)), ("Cloud", ("IaaS", "SaaS", "Office Suite", "Identity Provider")),
    ("Network", ("Network Devices",)), ("Containers", ("Containers", "Linux")),
)


def inventory() -> Inventory:
    catalog = load_catalog()
    groups = tuple(SystemGroup(applicable_to=n, platforms=p) for n, p in GROUPS)
    devices = []
    for i in range(30):
        t = catalog.types[i % len(catalog.types)]
        q = 1 + i % 5
        covers = ("all",) if i % 4 == 0 else (GROUPS[i % 10][0], GROUPS[(i * 3) % 10][0])
        devices.append(Device(name=f"device {i} ({t.id})", type=t.id, applicable_to=tuple(dict.fromkeys(covers)),
                              siem=i % 7 != 3, data_quality=DataQuality(
                                  device_completeness=q, data_field_completeness=5 - q % 3, timeliness=3,
                                  consistency=q, retention=4)))
    return Inventory(name="bench", system_groups=groups, devices=tuple(devices))


def median_of(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    load_attack(BUNDLE)  # make sure the normalised cache exists: we compare with the warm load
    t_load, kb = median_of(lambda: load_attack(BUNDLE), 5)
    catalog, inv = load_catalog(), inventory()

    def first_call() -> Any:
        _INDEX.pop(kb, None)  # the per-ATT&CK index is built once per knowledge base
        return score_visibility(kb, inv, catalog)

    t_first, _ = median_of(first_call, 3)
    t_score, scores = median_of(lambda: score_visibility(kb, inv, catalog), 7)
    t_explain, _ = median_of(lambda: [s.explain() for s in score_visibility(kb, inv, catalog)], 3)
    print(f"ATT&CK {kb.version}: {len(kb.techniques())} techniques; {len(inv.devices)} devices × "
          f"{len(inv.system_groups)} system groups -> {len(scores)} scores")
    print(f"{'step':<44}{'median':>10}{'ratio to load':>16}")
    for name, t in (("load_attack (warm cache)", t_load), ("score_visibility, first call (+index)", t_first),
                    ("score_visibility, warm", t_score), ("score + every explanation", t_explain)):
        print(f"{name:<44}{t * 1000:>8.1f} ms{t / t_load:>15.2f}x")


if __name__ == "__main__":
    main()
