"""Profile weighting benchmark: detcov (profile load + weights) vs a DeTT&CT-style nested-loop count over the
raw bundle, side by side in one run; also checks that both give the same per-technique group counts.

    .venv/bin/python benchmarks/profiles.py [--bundle PATH] [--runs 5]

Times are process CPU time, medians of --runs runs; the ratio is to the raw nested-loop count (which is given
the already-parsed bundle, i.e. it does not pay for JSON parsing; detcov starts from its warm ATT&CK cache).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from detcov.apt_profiles import WeightOptions, load_profile  # noqa: E402
from detcov.attack.sources import load_attack  # noqa: E402


def measure(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def _attack_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references", ()):
        if ref.get("source_name") == "mitre-attack":
            return ref.get("external_id")
    return None


def naive_counts(objects: list[dict[str, Any]], group_ids: list[str]) -> dict[str, int]:
    """What DeTT&CT's group mode does: scan every relationship per group, software and campaign."""
    live = [o for o in objects if not o.get("revoked") and not o.get("x_mitre_deprecated")]
    ids = {o["id"]: _attack_id(o) for o in live}
    rels = [o for o in live if o["type"] == "relationship"]
    counts: dict[str, int] = defaultdict(int)
    for gid in group_ids:
        gstix = next(k for k, v in ids.items() if v == gid and k.startswith("intrusion-set--"))
        sources = {gstix} | {r["source_ref"] for r in rels
                             if r["relationship_type"] == "attributed-to" and r["target_ref"] == gstix}
        software = {r["target_ref"] for r in rels if r["relationship_type"] == "uses"
                    and r["source_ref"] in sources and r["target_ref"].startswith(("malware--", "tool--"))}
        users = sources | software
        techniques = {ids[r["target_ref"]] for r in rels if r["relationship_type"] == "uses"
                      and r["source_ref"] in users and r["target_ref"].startswith("attack-pattern--")
                      and r["target_ref"] in ids}
        for t in techniques:
            counts[str(t)] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    default = REPO.parent / "shared/attack/enterprise-attack-18.1.json"
    parser.add_argument("--bundle", type=Path, default=default)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DETCOV_CACHE_DIR", tempfile.mkdtemp(prefix="detcov-bench-"))
    kb = load_attack(args.bundle)  # warms the cache
    objects = orjson.loads(args.bundle.read_bytes())["objects"]
    profile = load_profile("financial-sector", kb)
    groups = list(profile.group_ids)

    def detcov_run() -> dict[str, Any]:
        k = load_attack(args.bundle)
        return load_profile("financial-sector", k).weights(k, WeightOptions.counts())

    ours = {t: w.count for t, w in detcov_run().items() if w.count}
    theirs = naive_counts(objects, groups)
    assert ours == dict(theirs), "detcov and the raw count disagree"
    naive = measure(lambda: naive_counts(objects, groups), args.runs)
    full = measure(detcov_run, args.runs)
    weights = measure(lambda: profile.weights(kb), args.runs)
    print(f"financial-sector: {len(groups)} groups, {len(ours)} techniques; results identical")
    print(f"{'step':<48}{'median CPU s':>14}{'ratio':>10}")
    print(f"{'raw nested-loop count (parsed bundle given)':<48}{naive:>14.4f}{1.0:>10.2f}")
    print(f"{'detcov: warm ATT&CK load + profile + weights':<48}{full:>14.4f}{full / naive:>10.2f}")
    print(f"{'detcov: weights only (default options)':<48}{weights:>14.4f}{weights / naive:>10.2f}")


if __name__ == "__main__":
    main()
