# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # What if we onboard X? Inventory changes, before and after
#
# The demo bank runs auditd on its Linux servers and core-banking hosts, but the logs stay on the hosts
# (`siem: false`, waiting for a SIEM licence upgrade), and it has no EDR on Linux. Which should the 2026 budget
# pay for? This notebook answers with numbers, on **copies** of the demo institution (the original is never
# touched):
#
# * **A**: forward the auditd logs to the SIEM (`siem: true`): a licence, no new sensor;
# * **B**: instead, buy an EDR for the Linux servers and the core-banking hosts;
# * **C**: both.
#
# The inventory is edited with `detcov.userfiles.load_yaml` / `save_yaml`, which keep the comments and the
# key order of the hand-written file, so the edited copy is still a file a colleague can review.
#
# ATT&CK comes from local files only: `DETCOV_ATTACK_BUNDLE` (one bundle) or `DETCOV_ATTACK_DATA` (a folder).
# `DETCOV_DEMO_BANK` overrides where the demo institution lives (default: `../examples/demo-bank`).

# %%
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from detcov.coverage.engine import ScanResult, run_scan
from detcov.coverage.kpis import all_tables
from detcov.userfiles import load_yaml, save_yaml

DEMO = Path(os.environ.get("DETCOV_DEMO_BANK", "../examples/demo-bank")).resolve()
BUNDLE = Path(os.environ["DETCOV_ATTACK_BUNDLE"]) if os.environ.get("DETCOV_ATTACK_BUNDLE") else None
WORK = Path(tempfile.mkdtemp(prefix="detcov-whatif-"))
pd.set_option("display.max_colwidth", 90)
pd.set_option("display.width", 200)
Edit = Callable[[Any], None]  # changes the round-trip inventory document in place


def variant(name: str, *edits: Edit) -> Path:
    """A private copy of the demo institution (config, inventory, rules, scores) with the inventory edited."""
    folder = Path(shutil.copytree(DEMO, WORK / name))
    doc = load_yaml(folder / "inventory.yaml")
    for edit in edits:
        edit(doc)
    save_yaml(folder / "inventory.yaml", doc)
    return folder


def scan(folder: Path) -> ScanResult:
    return run_scan(folder / "detcov.yaml", attack_path=BUNDLE)


# %% [markdown]
# ## Baseline

# %%
baseline = scan(variant("baseline"))
print(f"baseline: {baseline.summary.kpis.visibility.covered} visible, "
      f"{baseline.summary.kpis.detection.covered} detected of {baseline.summary.kpis.detection.total}")
print("the onboarding plan's first steps:", *(f"{s.text} (gain {s.gain})" for s in baseline.onboarding[:3]),
      sep="\n  ")

# %% [markdown]
# ## The two edits

# %%
def forward_auditd(doc: Any) -> None:
    auditd = next(d for d in doc["devices"] if d.get("type") == "linux-auditd")
    auditd["siem"] = True
    auditd["siem_since"] = "2026-01-15"


def linux_edr(doc: Any) -> None:
    doc["devices"].append({
        "name": "EDR (Linux)", "type": "edr", "vendor": "Microsoft", "product": "Defender for Endpoint on Linux",
        "applicable_to": ["Linux servers", "Core banking"], "blocking": True,
        "data_quality": {"device_completeness": 4, "data_field_completeness": 4, "timeliness": 4, "consistency": 4,
                         "retention": 3},
        "comment": "what-if: proposed for the 2026 budget",
    })


folder_a = variant("A-forward-auditd", forward_auditd)
text = (folder_a / "inventory.yaml").read_text(encoding="utf-8")
assert text.startswith("# Formosa Commercial Bank — device and log-source inventory"), "header comment lost"
assert "# NOT on workstations: EDR covers them" in text, "an end-of-line comment was lost"
print(*[line for line in text.splitlines() if "siem: true " in line or "siem_since: '2026" in line], sep="\n")

scenario_a = scan(folder_a)
scenario_b = scan(variant("B-linux-edr", linux_edr))
scenario_c = scan(variant("C-both", forward_auditd, linux_edr))
assert len(scenario_b.inventory.devices) == len(baseline.inventory.devices) + 1

# %% [markdown]
# ## KPI deltas
#
# Percentages of the techniques in the threat profile; the threat profile and the rules are the same in every
# run, so every change comes from the inventory.

# %%
runs = {"baseline": baseline, "A: auditd → SIEM": scenario_a, "B: Linux EDR": scenario_b, "C: both": scenario_c}


def kpi_row(result: ScanResult) -> dict[str, float]:
    k = result.summary.kpis
    return {"visible": k.visibility.covered, "visible %": k.visibility.percent,
            "visible % (weighted)": k.visibility.weighted_percent, "detected": k.detection.covered,
            "detected %": k.detection.percent, "detected % (weighted)": k.detection.weighted_percent,
            "blocked": k.blocking.covered, "healthy rules": sum(h.healthy for h in result.healths)}


kpi_table = pd.DataFrame({name: kpi_row(r) for name, r in runs.items()}).T
for name in list(runs)[1:]:
    kpi_table.loc[f"Δ {name[0]}"] = kpi_table.loc[name] - kpi_table.loc["baseline"]
kpi_table

# %% [markdown]
# ## Visibility never drops when we add telemetry
#
# Adding a log source can only add data components, so no technique may lose visibility against the baseline,
# and C (both) may not be below A or B for any technique.

# %%
def column(result: ScanResult, name: str) -> pd.Series:
    table = all_tables(result)["techniques"].set_index("technique")
    series: pd.Series = table.loc[table["in_scope"], name]
    return series


visibility = pd.DataFrame({name: column(r, "visibility") for name, r in runs.items()})
for before, after in [("baseline", name) for name in list(runs)[1:]] + [("A: auditd → SIEM", "C: both"),
                                                                         ("B: Linux EDR", "C: both")]:
    dropped = visibility.index[visibility[after] < visibility[before]]
    assert dropped.empty, f"visibility dropped from {before} to {after}: {list(dropped)}"
    assert runs[after].summary.kpis.visibility.covered >= runs[before].summary.kpis.visibility.covered
print("visibility did not drop for any technique in any scenario")

# %%
healthy_before = {h.rule.title for h in baseline.healths if h.healthy}
healed = {name: sorted({h.rule.title for h in r.healths if h.healthy} - healthy_before)
          for name, r in list(runs.items())[1:]}
for name, titles in healed.items():
    print(f"{name}: rules that become healthy", *titles, sep="\n  ")

# %% [markdown]
# ## Gap deltas
#
# How each in-scope technique's gap class moves from the baseline to C (rows: baseline, columns: C), then the
# techniques whose visibility rises in any scenario, heaviest threat weight first.

# %%
gap_before, gap_after = column(baseline, "gap").rename("baseline"), column(scenario_c, "gap").rename("C: both")
pd.crosstab(gap_before, gap_after)

# %%
raised = visibility[(visibility.drop(columns="baseline").max(axis=1) > visibility["baseline"])]
changed = raised.assign(weight=column(baseline, "weight"), gap_before=gap_before, gap_after=gap_after)
changed.sort_values("weight", ascending=False).head(15)

# %% [markdown]
# Reading it: which scenario sees more, which detects more? (Visibility *depth* is the 0–4 score: an EDR
# usually sees a technique better than auditd even where both see it at all.)

# %%
a, b = visibility["A: auditd → SIEM"], visibility["B: Linux EDR"]
print(f"techniques visible (score ≥ 1): A {int((a >= 1).sum())}, B {int((b >= 1).sum())}; "
      f"B scores higher on {int((b > a).sum())} techniques, A on {int((a > b).sum())}")
print(f"rules healed: A {len(healed['A: auditd → SIEM'])}, B {len(healed['B: Linux EDR'])}; detected techniques: "
      f"A {scenario_a.summary.kpis.detection.covered}, B {scenario_b.summary.kpis.detection.covered}")

# %% [markdown]
# Forwarding logs that are already collected on the hosts costs a licence, not a sensor, and it heals the rules
# written for auditd; the EDR adds depth. Compare with the greedy onboarding plan above: it ranks data sources by
# the share of ATT&CK data components they add and knows nothing about cost.

# %%
# The marker the test suite looks for (one JSON line).
keys = dict(zip(runs, ("base", "a", "b", "c"), strict=True))
print("DETCOV-NOTEBOOK " + json.dumps({
    "notebook": "whatif_onboarding",
    "visible": {keys[n]: r.summary.kpis.visibility.covered for n, r in runs.items()},
    "detected": {keys[n]: r.summary.kpis.detection.covered for n, r in runs.items()},
    "healed": {keys[n]: t for n, t in healed.items()}, "techniques_gaining_visibility": len(raised)}))
shutil.rmtree(WORK)
