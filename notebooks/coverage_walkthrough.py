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
# # Coverage walkthrough: the demo bank with the Python API
#
# This notebook runs the same scan as `detcov scan examples/demo-bank/detcov.yaml`, but step by step with
# the Python API, so that a SOC engineer can poke at every number: the KPIs, the per-tactic view, the gaps
# with their recommended next step, an ATT&CK-matrix heatmap and the health of every SIEM rule.
#
# **ATT&CK data comes from local files only.** Set one of:
#
# * `DETCOV_ATTACK_BUNDLE`: the path of one STIX bundle, e.g. `enterprise-attack-18.1.json`;
# * `DETCOV_ATTACK_DATA`: a folder of `enterprise-attack-<version>.json` bundles (the scan config asks for 18.1).
#
# `DETCOV_DEMO_BANK` overrides where the demo institution lives (default: `../examples/demo-bank`).

# %%
import json
import os
from pathlib import Path

import pandas as pd

from detcov.coverage.engine import run_scan
from detcov.coverage.kpis import all_tables
from detcov.outputs.heatmap import matrix_figure
from detcov.outputs.navigator import View
from detcov.outputs.scan_outputs import VIEW_TITLES, view_cells

DEMO = Path(os.environ.get("DETCOV_DEMO_BANK", "../examples/demo-bank")).resolve()
BUNDLE = Path(os.environ["DETCOV_ATTACK_BUNDLE"]) if os.environ.get("DETCOV_ATTACK_BUNDLE") else None
pd.set_option("display.max_colwidth", 90)
pd.set_option("display.width", 200)

# %% [markdown]
# ## 1. Run the scan
#
# `run_scan` reads the scan config, loads ATT&CK (from the cache after the first time), the inventory, the
# threat profile (financial-sector APT groups), every rule file, the purple-team scores and the attack
# simulations, then scores everything. It writes no files: `write_scan_outputs(result, out_dir)` does that.

# %%
result = run_scan(DEMO / "detcov.yaml", attack_path=BUNDLE, progress=lambda step: print("…", step))
summary = result.summary
print(f"{summary.scope.institution}: ATT&CK {summary.attack.version} ({summary.attack.detection_model} model), "
      f"{summary.scope.devices} devices, {summary.scope.rules} rules in {summary.scope.rule_files} files, "
      f"{summary.scope.techniques_in_scope} techniques in the threat profile")

# %% [markdown]
# ## 2. The KPIs
#
# Every score is per technique × **system group** (a *cell*): "we see ransomware on the workstations" says
# nothing about core banking. The KPIs count the cells of the techniques the financial-sector groups use
# (weight > 0) where the technique applies and ATT&CK names telemetry for it: *visible* = visibility ≥ 3,
# *detected* = detection ≥ 2 (a production rule healthy in that group, on its SIEM), *blocked* = a technical
# enforcement claim holds there, *validated* = a test in that group proved it. `percent` weights each cell by
# its group's criticality (5 = crown jewel), `weighted_percent` by threat weight × criticality; `weakest_group`
# is the worst critical group — the figure to show a board, next to the best group's.

# %%
pd.DataFrame([{"kpi": name, **ratio.model_dump()} for name, ratio in summary.kpis]).set_index("kpi")

# %%
# Per system group, crown jewels first.
pd.DataFrame([g.model_dump() for g in summary.system_groups]).set_index("name")

# %%
# The numbers are plain counts over the cells table: check them by hand.
cells_table = all_tables(result)["cells"]
in_scope = set(all_tables(result)["techniques"].query("in_scope")["technique"])
measured = cells_table[cells_table["technique"].isin(in_scope) & cells_table["observable"]]
assert (measured["visibility"] >= 3).sum() == summary.kpis.visibility.covered
assert (measured["detection"] >= 2).sum() == summary.kpis.detection.covered
assert len(measured) == summary.kpis.detection.total
core = measured[measured["group"] == "Core banking"]
print(f"Core banking: {(core['visibility'] >= 3).mean():.0%} visible, {(core['detection'] >= 2).mean():.0%} detected")

# %% [markdown]
# ## 3. Per tactic
#
# Where in the kill chain is the SOC blind? Percentages of the in-scope techniques under each tactic
# (a technique under two tactics counts in both).

# %%
per_tactic = pd.DataFrame([t.model_dump() for t in summary.per_tactic]).set_index("tactic")
per_tactic.sort_values("detection")

# %% [markdown]
# ## 4. Top gaps and what to do about them
#
# Priority = threat weight × gap severity × criticality of the group (blind > broken rule or failed test > rule
# gap), taken in the technique's worst critical group. *blind*: the SOC cannot see it there; *rule-gap*: the
# telemetry is there but no rule uses it; *broken*: a rule exists but is disabled or its log source does not
# reach its SIEM; *contradicted*: the newest attack simulation in that group was not detected or not blocked.

# %%
gaps = all_tables(result)["gaps"]
print(gaps["gap"].value_counts().to_string())
gaps.head(12)[["technique", "name", "group", "gap", "priority", "visibility", "detection", "action"]]

# %% [markdown]
# The greedy onboarding plan: which data source, for which system group, buys the most threat-weighted
# visibility next (each step assumes the previous ones are done).

# %%
pd.DataFrame([{"step": s.step, "do": s.text, "gain": s.gain, "techniques": len(s.techniques)}
              for s in result.onboarding[:8]])

# %% [markdown]
# ## 5. A heatmap: detection coverage on the ATT&CK matrix
#
# The same figure as `heatmaps.html` in the scan outputs (sub-techniques folded into their parent; hover a
# cell for the rules and the explanation).

# %%
cells = view_cells(result)
figure = matrix_figure(result.kb, cells[View.DETECTION], View.DETECTION, title=VIEW_TITLES[View.DETECTION])
figure

# %% [markdown]
# ## 6. Rule health
#
# Every rule is accounted for. A rule counts for detection in a system group only when it is *healthy* there:
# enabled, mapped to a technique this ATT&CK version knows, on a platform of the group, and its log source (of
# the right product) reaches the SIEM the rule runs on. `per_group` says why, group by group.

# %%
rules = all_tables(result)["rules"]
print(rules["health"].value_counts().to_string())
rules[rules["health"] != "healthy"][["title", "format", "health", "detail"]]

# %%
# The marker the test suite looks for (one JSON line).
print("DETCOV-NOTEBOOK " + json.dumps({
    "notebook": "coverage_walkthrough", "visible": summary.kpis.visibility.covered,
    "detected": summary.kpis.detection.covered, "in_scope": summary.kpis.detection.total,
    "rules": len(rules), "unhealthy": int((rules["health"] != "healthy").sum()),
    "top_gap": gaps.iloc[0]["technique"], "heatmap_traces": len(figure.data)}))
