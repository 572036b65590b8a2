"""Synthetic sector members, for the tests, the benchmark and demos (no real institution behind any of them).

Each member has a random "maturity" that shifts its scores, 4–8 system groups of the kinds banks run, and a
random subset of rule formats; the same seed gives the same sector.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from detcov.sector.model import KPIS, RULE_FAMILIES, Group, MemberCell, MemberCoverage
from detcov.sector.share import build_share, write_share

_GROUPS = (("Workstations", "workstations", 3, (500, 5000)), ("Servers", "servers", 4, (50, 800)),
           ("Core banking", "core-banking", 5, (4, 60)), ("SWIFT", "payments", 5, (2, 12)),
           ("E-banking", "internet-banking", 5, (6, 80)), ("Cloud", "cloud", 4, None),
           ("Network", "network", 3, None), ("AD", "identity", 5, (2, 20)), ("Lab", "other", 1, (1, 30)))


def _score(rng: random.Random, maturity: float, top: int, low: int = 0) -> int:
    return max(low, min(top, round(rng.gauss(maturity * top, 1.2))))


def member(rng: random.Random, techniques: Sequence[str], weights: dict[str, float], attack_version: str
           ) -> MemberCoverage:
    maturity = rng.uniform(0.15, 0.85)
    groups = [Group(f"{name}-{i}", kind, crit, rng.randint(*hosts) if hosts else None)
              for i, (name, kind, crit, hosts) in enumerate(rng.sample(_GROUPS, rng.randint(4, 8)))]
    families = rng.sample(RULE_FAMILIES[:5], rng.randint(1, 3))
    cells = []
    for group in groups:
        for tid in rng.sample(list(techniques), int(len(techniques) * rng.uniform(0.5, 0.9))):
            detection = _score(rng, maturity, 4, low=-1)
            rules = tuple((f, f"{f}-{tid}-{n}") for f in families for n in range(rng.randint(0, 2)))
            cells.append(MemberCell(tid, group.name, _score(rng, maturity, 4), detection, _score(rng, maturity, 3),
                                    rng.choice(("none", "claimed", "claimed", "proven")),
                                    rules if detection > 0 else ()))
    kpis = {k: round(100 * min(1.0, max(0.0, rng.gauss(maturity, 0.1))), 1) for k in KPIS}
    return MemberCoverage(attack_version, groups, cells, weights, kpis)


def write_sector_shares(folder: Path, techniques: Sequence[str], weights: dict[str, float], members: int, *,
                        seed: int = 18, versions: Sequence[str] = ("18.1",)) -> list[Path]:
    """``members`` synthetic shares in ``folder`` (ATT&CK versions spread round robin); their manifests' paths."""
    rng = random.Random(seed)
    out = []
    for i in range(members):
        coverage = member(rng, techniques, weights, versions[i % len(versions)])
        table, manifest = build_share(coverage, submission=f"{rng.getrandbits(64):016x}")
        out.append(write_share(folder, table, manifest)[1])
    return out
