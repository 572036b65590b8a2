"""The coverage scan: scan config → every score, gap and recommendation (no files written here).

    result = run_scan(Path("examples/demo-bank/detcov.yaml"))
    result.summary.kpis.detection.percent

Roll-up rule across system groups (stated in every output): a technique's visibility is its best system group's
score (where the SOC can see it at all), and the per-group scores stay in the techniques table. Detection and
blocking are per technique (rules and blocking devices apply to the groups they name).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from detcov.apt_profiles import Profile, TechniqueWeight, WeightOptions, load_profile
from detcov.attack import AttackKB
from detcov.attack.model import Technique
from detcov.attack.sources import load_attack_data
from detcov.config import ScanConfig, load_scan_config, resolve
from detcov.coverage.detection import DetectionScore, ManualScore, load_manual_scores, score_detection
from detcov.coverage.gaps import Gap, GapClass, classify, priority
from detcov.coverage.kpis import build_summary
from detcov.coverage.prevention import PreventionScore, ProtectRow, load_protect_rows, score_prevention
from detcov.coverage.recommend import Onboarding, RuleHint, next_data_sources, rule_hints
from detcov.coverage.summary import Summary
from detcov.coverage.validation import ValidationOutcome, assess_validation, load_validation
from detcov.datasources.catalog import Catalog, load_catalog
from detcov.datasources.inventory import Inventory, load_inventory_with_issues
from detcov.datasources.telemetry import CollectedTelemetry
from detcov.datasources.visibility import VisibilityScore, score_visibility
from detcov.errors import DetcovError, Issue, IssueCollector
from detcov.rules import FileResult, Rule, RuleHealth, RuleSet, assess, read_rules
from detcov.rules.reader import other_release_issues

Progress = Callable[[str], None]


@dataclass(frozen=True)
class VisibilityRollup:
    technique: str
    score: int
    group: str | None
    per_group: dict[str, int]
    explanation: str


@dataclass
class ScanResult:
    """Everything one scan computed. Read-only by convention; outputs and reports are built from it."""

    config: ScanConfig
    base: Path
    kb: AttackKB
    catalog: Catalog
    inventory: Inventory
    telemetry: CollectedTelemetry
    ruleset: RuleSet
    healths: list[RuleHealth]
    profiles: list[Profile]
    weights: dict[str, TechniqueWeight]
    visibility_scores: list[VisibilityScore]
    visibility: dict[str, VisibilityRollup]
    detection: dict[str, DetectionScore]
    prevention: dict[str, PreventionScore]
    validation: dict[str, ValidationOutcome]
    gaps: list[Gap]
    onboarding: list[Onboarding]
    hints: dict[str, list[RuleHint]]
    issues: list[Issue] = field(default_factory=list)
    inventory_sha256: str = ""
    rules_sha256: str = ""

    @property
    def in_scope(self) -> list[str]:
        return [t for t, w in self.weights.items() if w.weight > 0]

    @cached_property
    def summary(self) -> Summary:
        """The KPIs, computed once (after run_scan has filled gaps and recommendations)."""
        return build_summary(self)


def _quiet(_: str) -> None:
    pass


def combine_weights(profiles: Sequence[Profile], kb: AttackKB, options: WeightOptions) -> dict[str, TechniqueWeight]:
    """Several profiles: weights add up, contributions are kept side by side."""
    merged: dict[str, TechniqueWeight] = {}
    for profile in profiles:
        for tid, w in profile.weights(kb, options).items():
            old = merged.get(tid)
            merged[tid] = w if old is None else TechniqueWeight(
                tid, old.weight + w.weight, old.contributions + w.contributions, old.forced or w.forced)
    return dict(sorted(merged.items(), key=lambda kv: -kv[1].weight))


def rollup_visibility(scores: Sequence[VisibilityScore], manual: dict[str, ManualScore]) -> dict[str, VisibilityRollup]:
    per: dict[str, dict[str, VisibilityScore]] = {}
    for s in scores:
        per.setdefault(s.technique, {})[s.system_group] = s
    out: dict[str, VisibilityRollup] = {}
    for tid, groups in per.items():
        best = max(groups.values(), key=lambda s: (s.score, s.coverage))
        text = f"best group {best.system_group}: {best.explain()}"
        score = best.score
        m = manual.get(tid)
        if m is not None and m.visibility is not None:
            text = f"manual visibility {m.visibility} ({m.date}, {m.location}) replaces {score}. {text}"
            score = m.visibility
        out[tid] = VisibilityRollup(tid, score, best.system_group, {g: s.score for g, s in groups.items()}, text)
    for tid, m in manual.items():
        if tid not in out and m.visibility is not None:
            out[tid] = VisibilityRollup(tid, m.visibility, None, {}, f"manual visibility {m.visibility} ({m.date})")
    return out


def _fingerprint(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()


def _read_ruleset(config: ScanConfig, base: Path, kb: AttackKB, extra_rules: Sequence[Rule]) -> RuleSet:
    rules: list[Rule] = []
    files = []
    issues: list[Issue] = []
    for source in config.rules:
        path = resolve(base, source.path)
        if not path.exists():
            raise DetcovError(f"rule source not found: {path}", hint="fix 'rules: - path:' in the scan config")
        rs = read_rules([path], kb, source.format)
        applicable = tuple(source.applicable_to)
        rules += [r if r.applicable_to else _with_applicable(r, applicable) for r in rs.rules]
        files += list(rs.files)
        issues += list(rs.issues)
    if extra_rules:  # what-if: rules assumed deployed, accounted for as one pseudo file
        rules += list(extra_rules)
        files.append(FileResult("(what-if: assumed deployed)", None, rules=len(extra_rules)))
    ruleset = RuleSet(tuple(rules), tuple(files), tuple(issues))
    return replace(ruleset, issues=(*ruleset.issues, *other_release_issues(ruleset)))  # ids of a newer ATT&CK


def _with_applicable(rule: Rule, applicable: tuple[str, ...]) -> Rule:
    return replace(rule, applicable_to=applicable)


def _classify_gaps(result: ScanResult) -> list[Gap]:
    gaps = []
    for tid in result.in_scope:
        technique = result.kb.technique(tid)
        if technique is None:
            continue
        vis = result.visibility.get(tid)
        det = result.detection.get(tid)
        val = result.validation.get(tid)
        prev = result.prevention.get(tid)
        v, d = (vis.score if vis else 0), (det.score if det else -1)
        gap = classify(v, d, bool(det and det.broken), bool(val and (val.detected or val.blocked)),
                       bool(val and val.contradictions), observable=_observable(result, technique))
        weight = result.weights[tid].weight
        gaps.append(Gap(tid, technique.name, technique.tactics, gap, weight, priority(weight, gap, d), v, d,
                        prev.score if prev else 0, _action(result, tid, gap)))
    return sorted(gaps, key=lambda g: (-g.priority, g.technique))


def _observable(result: ScanResult, technique: Technique) -> bool:
    """Does ATT&CK name telemetry for it on a platform the institution runs? (not for PRE or absent platforms)"""
    return any(result.kb.detection_refs(technique.id, p) for p in technique.platforms
               if p in result.telemetry.platforms or p in {pl for g in result.inventory.system_groups
                                                          for pl in g.platforms})


def _action(result: ScanResult, tid: str, gap: GapClass) -> str:
    if gap is GapClass.VALIDATED:
        return "keep testing it every quarter"
    if gap is GapClass.NOT_OBSERVABLE:
        technique = result.kb.technique(tid)
        platforms = ", ".join(technique.platforms) if technique else "?"
        return f"not observable in this estate (platforms: {platforms}): track it with threat intelligence"
    det = result.detection.get(tid)
    if gap is GapClass.BROKEN and det:
        return "fix the rule(s): " + "; ".join(det.broken[:2])
    if gap is GapClass.DETECTED:
        return f"deepen detection (score {det.score if det else -1}): add a rule on another log source"
    if gap is GapClass.RULE_GAP:
        hints = result.hints.get(tid) or []
        return hints[0].text if hints else "write a rule on the collected log sources (see visibility explanation)"
    for step in result.onboarding:
        if tid in step.techniques:
            return step.text
    vis = result.visibility.get(tid)
    return "add telemetry: " + (vis.explanation.split("missing: ", 1)[-1][:160] if vis else "none is collected")


def run_scan(config_path: Path, *, attack_path: Path | None = None, attack_version: str | None = None,
             extra_rules: Sequence[Rule] = (), progress: Progress = _quiet) -> ScanResult:
    """Run the whole scan. Every input problem is collected and raised together (DetcovError)."""
    config, base = load_scan_config(config_path)
    progress("loading ATT&CK")
    path = attack_path or (resolve(base, config.attack.path) if config.attack.path else None)
    data, _ = load_attack_data(path, attack_version or config.attack.version)
    kb = AttackKB(data)
    issues = IssueCollector()
    progress("reading the inventory")
    catalog = load_catalog()
    inventory_path = resolve(base, config.inventory)
    inventory, inv_warnings, _ = load_inventory_with_issues(inventory_path, kb, catalog)
    issues.extend(inv_warnings)
    progress("loading threat profiles")
    profiles = [load_profile(p if not _is_file(base, p) else str(resolve(base, p)), kb) for p in config.profiles]
    for p in profiles:
        issues.extend(p.issues)
    options = WeightOptions(provenance=config.provenance_weights) if config.provenance_weights else WeightOptions()
    weights = combine_weights(profiles, kb, options)
    progress("reading rules")
    ruleset = _read_ruleset(config, base, kb, extra_rules)
    issues.extend(ruleset.issues)
    telemetry = inventory.telemetry(kb, catalog)
    healths = assess(ruleset.rules, kb, telemetry)
    manual: dict[str, ManualScore] = {}
    if config.technique_scores:
        manual, manual_issues = load_manual_scores(resolve(base, config.technique_scores), kb)
        issues.extend(manual_issues)
    progress("scoring")
    vis_scores = score_visibility(kb, inventory, catalog)
    detection = score_detection(kb, healths, manual)
    protect: list[ProtectRow] = []
    for mapping in config.protect_mappings:
        rows, map_issues = load_protect_rows(resolve(base, mapping.file), mapping.capabilities, kb)
        protect += rows
        issues.extend(map_issues)
    prevention = score_prevention(kb, inventory.blocking_devices(catalog), protect)
    validation: dict[str, ValidationOutcome] = {}
    if config.validation:
        results, val_issues = load_validation(resolve(base, config.validation), kb)
        issues.extend(val_issues)
        validation = assess_validation(results, {t: d.score for t, d in detection.items()},
                                       {t: p.score for t, p in prevention.items()})
    issues.raise_if_errors()
    progress("gaps and recommendations")
    result = ScanResult(
        config=config, base=base, kb=kb, catalog=catalog, inventory=inventory, telemetry=telemetry, ruleset=ruleset,
        healths=healths, profiles=profiles, weights=weights, visibility_scores=vis_scores,
        visibility=rollup_visibility(vis_scores, manual), detection=detection, prevention=prevention,
        validation=validation, gaps=[], onboarding=[], hints={}, issues=list(issues),
        inventory_sha256=_fingerprint([inventory_path]),
        rules_sha256=_fingerprint([resolve(base, s.path) for s in config.rules]),
    )
    in_scope = {t: w.weight for t, w in weights.items() if w.weight > 0}
    result.onboarding = next_data_sources(kb, catalog, inventory, in_scope)
    undetected = [t for t in in_scope if (result.visibility.get(t) and result.visibility[t].score >= 1)
                  and (t not in detection or detection[t].score < 1)]
    result.hints = rule_hints(kb, telemetry, undetected)
    result.gaps = _classify_gaps(result)
    return result


def _is_file(base: Path, value: str) -> bool:
    return value.endswith((".yaml", ".yml", ".json")) or resolve(base, value).is_file()
