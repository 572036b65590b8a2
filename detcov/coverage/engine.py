"""The coverage scan: scan config → every score, gap and recommendation (no files written here).

    result = run_scan(Path("examples/demo-bank/detcov.yaml"))
    result.summary.kpis.detection.percent
    result.cells[("T1486", "Core banking")].explanation

Every score is per technique × system group (a :class:`Cell`), read from one scope model
(:mod:`detcov.coverage.scope`): visibility from the devices of that group that reach a SIEM; detection from the rules
healthy *in that group, on their SIEM*; blocking from the enforcement claims that hold there; validation from the
tests run there. A technique's headline entry is its *deciding group*: the applicable group with the highest
threat weight × gap severity × criticality — the worst critical group, never the best one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from pathlib import Path

from detcov.apt_profiles import Profile, TechniqueWeight, WeightOptions, load_profile
from detcov.attack import AttackKB
from detcov.attack.sources import load_attack_data
from detcov.config import ScanConfig, load_scan_config, resolve
from detcov.coverage.blocking_catalog import BlockingCatalog, load_blocking_catalog
from detcov.coverage.cells import Cell, ScoringInputs, build_cells
from detcov.coverage.detection import (
    DetectionScore,
    ManualScore,
    by_technique,
    derived_credit,
    load_manual_scores,
)
from detcov.coverage.gaps import Gap, GapClass, telemetry_step
from detcov.coverage.kpis import build_summary
from detcov.coverage.prevention import (
    PreventionScore,
    ProtectRow,
    device_credits,
    load_protect_rows,
    merge_credits,
    protect_credits,
)
from detcov.coverage.recommend import Onboarding, RuleHint, next_data_sources, rule_hints
from detcov.coverage.scope import Estate, build_estate
from detcov.coverage.summary import Summary
from detcov.coverage.validation import CellValidation, TestResult, assess_cells, load_validation, validation_text
from detcov.datasources.catalog import Catalog, load_catalog
from detcov.datasources.inventory import Inventory, load_inventory_with_issues
from detcov.datasources.telemetry import CollectedTelemetry
from detcov.datasources.visibility import VisibilityScore, score_visibility
from detcov.errors import Issue, IssueCollector, Location, Severity
from detcov.rules import FileResult, Rule, RuleHealth, RuleSet, assess, read_rules
from detcov.rules.model import Placement, RuleFormat
from detcov.rules.reader import other_release_issues

Progress = Callable[[str], None]


@dataclass(frozen=True)
class VisibilityRollup:
    technique: str
    score: int
    group: str | None
    per_group: dict[str, int]
    explanation: str


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    """The headline validation of a technique (its deciding group), kept for the report and history."""

    technique: str
    results: tuple[TestResult, ...]
    detected: bool
    blocked: bool
    contradictions: tuple[str, ...]
    group: str | None = None

    @property
    def status(self) -> str:
        return "blocked" if self.blocked else "detected" if self.detected else \
            "contradicted" if self.contradictions else "not proven"


@dataclass
class ScanResult:
    """Everything one scan computed. Read-only by convention; outputs and reports are built from it."""

    config: ScanConfig
    base: Path
    kb: AttackKB
    catalog: Catalog
    inventory: Inventory
    estate: Estate
    telemetry: CollectedTelemetry
    ruleset: RuleSet
    healths: list[RuleHealth]
    profiles: list[Profile]
    weights: dict[str, TechniqueWeight]
    visibility_scores: list[VisibilityScore]
    scoring: ScoringInputs  # what every cell is scored from (a what-if re-scores from it)
    cells: dict[tuple[str, str], Cell]
    visibility: dict[str, VisibilityRollup]
    detection: dict[str, DetectionScore]
    prevention: dict[str, PreventionScore]
    validation: dict[str, ValidationOutcome]
    gaps: list[Gap]
    onboarding: list[Onboarding]
    hints: dict[str, list[RuleHint]]
    hardening: list[tuple[str, str, str, int]] = field(default_factory=list)  # device, M id, name, techniques
    tests: list[TestResult] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)  # the SIEM pulls behind the log-flow evidence
    inventory_sha256: str = ""
    rules_sha256: str = ""
    as_of: str = ""

    @property
    def in_scope(self) -> list[str]:
        return [t for t, w in self.weights.items() if w.weight > 0]

    def cells_of(self, technique: str) -> list[Cell]:
        return [c for g in self.inventory.system_groups if (c := self.cells.get((technique, g.applicable_to)))]

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


def _file_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:  # unreadable: reported by the reader; the fingerprint still changes
        return str(exc.errno).encode()


def _fingerprint(paths: Sequence[Path], read: Sequence[FileResult] | None = None) -> str:
    """SHA-256 over each file's name (relative to its source) and content. With ``read`` (rule sources), the
    content hashes are the reader's, taken of the bytes it parsed (or kept in its cache): nothing is read twice."""
    digest = hashlib.sha256()
    hashed = {f.path: f.sha256 for f in read or ()}
    for path in sorted(paths):
        if read is None:
            files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            parts = [(str(f.relative_to(path) if path.is_dir() else f.name), _file_bytes(f)) for f in files]
            digest.update(b"".join(part for name, content in parts for part in (name.encode(), content)))
        else:  # the same bytes, name then hash per file, joined as text first (100,000 rule files)
            prefix, whole = f"{path}{os.sep}", str(path)
            cut = len(prefix)
            names = sorted(n for n in hashed if n.startswith(prefix) or n == whole)
            digest.update("".join((path.name if n == whole else n[cut:]) + (hashed[n] or "") for n in names).encode())
    return digest.hexdigest()


def _read_ruleset(config: ScanConfig, base: Path, kb: AttackKB, estate: Estate | None) -> RuleSet:
    rules: list[Rule] = []
    files = []
    issues: list[Issue] = []
    for source in config.rules:
        path = resolve(base, source.path)
        if not path.exists():
            issues.append(Issue(f"rule source not found: {path}", None, "fix 'rules: - path:' in the scan config"))
            continue  # reported beside every other file's problems
        placement = Placement(tuple(source.applicable_to), {  # format family -> the SIEMs its rules run on
            family: tuple(source.siems) or (estate.siems_for_format(family) if estate else ())
            for family in dict.fromkeys(f.family for f in RuleFormat)})
        rs = read_rules([path], kb, source.format, queries=False, placement=placement)  # scores read no query
        issues += [i for f in rs.files for i in f.issues if i.severity is Severity.WARNING]  # e.g. a row skipped
        rules += rs.rules
        files += list(rs.files)
        issues += list(rs.issues)
    ruleset = RuleSet(tuple(rules), tuple(files), tuple(issues))
    return replace(ruleset, issues=(*ruleset.issues, *other_release_issues(ruleset)))  # ids of a newer ATT&CK


def _hardening(inventory: Inventory, catalog: BlockingCatalog) -> list[tuple[str, str, str, int]]:
    """Policy mitigations the enforcing devices configure: the hardening view, never counted as blocking."""
    return [(d.name, h.mitigation, h.name, len(h.techniques)) for d in inventory.devices if d.blocking and d.type
            for h in catalog.hardening(d.type)]


def _rollup_visibility(cells: Mapping[tuple[str, str], Cell], head: Mapping[str, Cell]) -> dict[str, VisibilityRollup]:
    per: dict[str, dict[str, int]] = {}
    for (tid, group), c in cells.items():
        if c.applicable:
            per.setdefault(tid, {})[group] = c.visibility
    return {tid: VisibilityRollup(tid, c.visibility, c.group, per.get(tid, {}),
                                  f"worst critical group {c.group} (criticality {c.criticality}): {c.visibility_text}")
            for tid, c in head.items() if c.applicable}


def _validation_rollup(vals: Mapping[tuple[str, str], CellValidation], head: Mapping[str, Cell]
                       ) -> dict[str, ValidationOutcome]:
    by_tech: dict[str, list[CellValidation]] = {}
    for (tid, _), v in vals.items():
        by_tech.setdefault(tid, []).append(v)
    out = {}
    for tid, vs in by_tech.items():
        group = head[tid].group if tid in head else None
        mine = next((v for v in vs if v.group == group), None)
        results = tuple(dict.fromkeys(r for v in vs for r in v.results))
        contradictions = tuple(validation_text(v) for v in vs if v.contradicted)
        out[tid] = ValidationOutcome(tid, results, bool(mine and mine.detected), bool(mine and mine.blocked),
                                     contradictions, group)
    return out


def _technique_gap(result: ScanResult, tid: str, head: Cell) -> Gap:
    technique = result.kb.technique(tid)
    assert technique is not None
    cells = result.cells_of(tid)
    applicable = [c for c in cells if c.applicable]
    if not applicable:
        pre = "PRE" in technique.platforms or not technique.platforms
        gap = GapClass.NOT_OBSERVABLE if pre else GapClass.NOT_APPLICABLE
        cell_text: tuple[str, ...] = ()
    else:
        gap = head.gap
        cell_text = tuple(f"{c.group}: {c.gap.value}" for c in sorted(applicable, key=lambda c: -c.priority))
    weight = result.weights[tid].weight
    return Gap(tid, technique.name, technique.tactics, gap, weight, head.priority if applicable else 0.0,
               head.visibility, head.detection, head.blocking, _action(result, tid, gap, head),
               head.group if applicable else None, head.criticality, cell_text, head.detection_evidence.value)


def _classify_gaps(result: ScanResult, head: Mapping[str, Cell]) -> list[Gap]:
    gaps = [_technique_gap(result, tid, head[tid]) for tid in result.in_scope
            if tid in head and result.kb.technique(tid) is not None]
    return sorted(gaps, key=lambda g: (-g.priority, -g.criticality, g.technique))


def _action(result: ScanResult, tid: str, gap: GapClass, cell: Cell) -> str:
    group = cell.group
    if gap is GapClass.VALIDATED:
        return f"keep testing it every quarter ({group})"
    if gap in (GapClass.NOT_OBSERVABLE, GapClass.NOT_APPLICABLE):
        technique = result.kb.technique(tid)
        platforms = ", ".join(technique.platforms) if technique else "?"
        return f"not observable in this estate (platforms: {platforms}): track it with threat intelligence"
    if gap is GapClass.CONTRADICTED:
        return (f"a test failed in {group}: fix the detection/blocking it disproved, then re-test "
                f"({cell.validation_text})")
    found = result.detection.get(tid)
    det = found if found is not None and found.group == group else None
    if gap is GapClass.BROKEN:
        return _fix_broken(result, tid, group, det)
    if gap is GapClass.DETECTED:
        return f"deepen detection in {group} (score {cell.detection}): add a rule on another, independent log source"
    if gap is GapClass.RULE_GAP:
        hints = result.hints.get(tid) or []
        text = hints[0].text if hints else "write a rule on the collected log sources (see visibility explanation)"
        return f"{text} — for {group}"
    for step in result.onboarding:
        if tid in step.techniques and step.system_group == group:
            return step.text
    return telemetry_step(group, cell.visibility_text)


def _fix_broken(result: ScanResult, tid: str, group: str, det: DetectionScore | None) -> str:
    """Forwarding a deployed device's logs beats "fix the rule" when that is the real fix."""
    gt = result.estate.group_telemetry.get(group)
    broken = [b for b in (det.broken if det else ()) if "missing-log-source" in b]
    needs = " ".join(broken)
    idle = sorted(d.name for d in (gt.devices if gt else ()) if not d.siems and d.type and d.type in needs)
    silent = [d for d in (gt.devices if gt else ()) if d.silent and d.type and d.type in needs]
    if broken and idle:
        return f"forward to the SIEM the logs of {', '.join(idle[:2])} ({group}); then: {broken[0][:120]}"
    if broken and silent:
        return f"restore the log flow of {silent[0].name} ({'; '.join(silent[0].silent)}); rule: {broken[0][:100]}"
    return f"fix the rule(s) for {group}: " + "; ".join((det.broken if det else ())[:2])


# ----- the scan -----------------------------------------------------------------------------------------------
def _place(estate: Estate, kb: AttackKB, issues: IssueCollector) -> Callable[[TestResult], tuple[str, ...]]:
    warned: set[str] = set()

    def place(r: TestResult) -> tuple[str, ...]:
        group = estate.resolve_group(r.system_group, r.host)
        if group:
            return (group,)
        technique = kb.technique(r.technique)
        where = tuple(g.applicable_to for g in estate.groups if technique and estate.applicable(technique, g))
        file = r.location.rsplit(":", 1)[0]
        if file not in warned:
            warned.add(file)
            issues.add(Issue(f"result {r.test!r} names no system group or known host: applied to every group the "
                             "technique runs in", Location(file), "add a system_group or host column (hosts are "
                             "placed through system_groups[].host_patterns)", Severity.WARNING))
        return where
    return place


def _load_tests(config: ScanConfig, base: Path, kb: AttackKB, issues: IssueCollector) -> list[TestResult]:
    from detcov.config import validation_sources

    out: list[TestResult] = []
    for source in validation_sources(config):
        path = resolve(base, source.path)
        rows, found = load_validation(path, kb, source.format)
        # explanations name the file as the config does (no absolute local paths in shared outputs)
        out += [replace(r, location=r.location.replace(str(path), source.path, 1)) for r in rows]
        issues.extend(found)
    return out


def _load_profiles(config: ScanConfig, base: Path, kb: AttackKB, issues: IssueCollector) -> list[Profile]:
    profiles = []
    for name in config.profiles:
        ref = str(resolve(base, name)) if _is_file(base, name) else name
        profile = issues.attempt(partial(load_profile, ref, kb))
        if profile is not None:
            profiles.append(profile)
            issues.extend(profile.issues)
    return profiles


def _other_inputs(config: ScanConfig, base: Path, kb: AttackKB, issues: IssueCollector) -> None:
    """The inventory did not load, so nothing can be scored; read the other inputs anyway so that the user sees
    every file's problems in one run."""
    _load_profiles(config, base, kb, issues)
    issues.extend(_read_ruleset(config, base, kb, None).issues)
    _load_tests(config, base, kb, issues)
    for mapping in config.protect_mappings:
        found = issues.attempt(partial(load_protect_rows, resolve(base, mapping.file), mapping.capabilities, kb,
                                       tuple(mapping.applicable_to)))
        issues.extend(found[1] if found else [])


def _silent_sources(config: ScanConfig, base: Path, inventory: Inventory, issues: IssueCollector
                    ) -> tuple[dict[tuple[str, str], str], list[str]]:
    """(device, siem) -> why its logs do not count (log-flow evidence: silent or never seen), and the provenance of
    the pulls behind the evidence. Silence is measured against the scan's ``as_of`` when the config sets one, else
    against the moment the evidence was taken (the pull, or the newest event of that SIEM's export) — a week-old
    pull must not make every source look silent."""
    from detcov.config import log_flow_paths

    paths = [resolve(base, p) for p in log_flow_paths(config)]
    if not paths:
        return {}, []
    from detcov.siem.flow import FlowState, evidence_time, load_flow, match_flow, unknown_siems
    from detcov.siem.snapshot import find_manifests, flow_as_of

    observations, found = load_flow(paths)
    issues.extend(found)
    issues.extend(unknown_siems(observations, inventory.siem_ids))
    manifests, manifest_issues = find_manifests(paths)
    issues.extend(manifest_issues)
    pulled = {m.siem: flow_as_of(m) for m in manifests}
    out: dict[tuple[str, str], str] = {}
    for siem in inventory.siem_ids:
        devices = [(d.name, siem, [f.model_dump(exclude_none=True) for f in d.feeds if f.siem == siem])
                   for d in inventory.devices if siem in d.siem_ids(inventory.siem_ids)]
        when = (dt.datetime.combine(config.as_of, dt.time(23, 59, 59), tzinfo=dt.UTC) if config.as_of
                else pulled.get(siem) or evidence_time(observations, siem) or dt.datetime.now(dt.UTC))
        status = match_flow(devices, observations, when, dt.timedelta(hours=config.log_flow_silent_hours))
        out |= {key: f"{st.state.value}: {st.evidence}" for key, st in status.items()
                if st.state in (FlowState.SILENT, FlowState.NEVER_SEEN)}
    return out, [m.provenance() for m in manifests]


def run_scan(config_path: Path, *, attack_path: Path | None = None, attack_version: str | None = None,
             extra_rules: Sequence[Rule] = (), progress: Progress = _quiet) -> ScanResult:
    """Run the whole scan. Every input problem is collected and raised together (DetcovError)."""
    read = read_scan(config_path, attack_path=attack_path, attack_version=attack_version, progress=progress)
    return with_extra_rules(read, extra_rules) if extra_rules else score_scan(read, progress)


def read_scan(config_path: Path, *, attack_path: Path | None = None, attack_version: str | None = None,
              progress: Progress = _quiet) -> ScanResult:
    """A scan's first half: every input read and checked (problems raised together, DetcovError) and every rule
    judged (``healths``); nothing scored yet (no cells, gaps or recommendations: :func:`score_scan`). What depends
    only on the rules, such as the rules table, can be made from it while the scoring runs."""
    config, base = load_scan_config(config_path)
    as_of = config.as_of or dt.date.today()
    progress("loading ATT&CK")
    path = attack_path or (resolve(base, config.attack.path) if config.attack.path else None)
    data, _ = load_attack_data(path, attack_version or config.attack.version)
    kb = AttackKB(data)
    issues = IssueCollector()
    progress("reading the inventory")
    catalog = load_catalog()
    inventory_path = resolve(base, config.inventory)
    loaded = issues.attempt(partial(load_inventory_with_issues, inventory_path, kb, catalog))
    manual: dict[str, ManualScore] = {}
    if config.technique_scores:  # read early: its errors are reported even when the inventory is broken
        scores = issues.attempt(partial(load_manual_scores, resolve(base, config.technique_scores), kb))
        manual = scores[0] if scores else {}
        issues.extend(scores[1] if scores else [])
    if loaded is None:
        _other_inputs(config, base, kb, issues)
        issues.raise_if_errors()
    assert loaded is not None  # a failed inventory is an error raised just above
    inventory = loaded[0]
    issues.extend(loaded[1])
    silent, provenance = _silent_sources(config, base, inventory, issues)
    estate = build_estate(inventory, kb, catalog, retention_days=config.requirements.retention_days, silent=silent)
    progress("loading threat profiles")
    profiles = _load_profiles(config, base, kb, issues)
    options = WeightOptions(provenance=config.provenance_weights) if config.provenance_weights else WeightOptions()
    weights = combine_weights(profiles, kb, options)
    progress("reading rules")
    ruleset = _read_ruleset(config, base, kb, estate)
    issues.extend(ruleset.issues)
    healths = assess(ruleset.rules, kb, estate.health_scopes)
    progress("scoring")
    vis_scores = score_visibility(kb, inventory, catalog, telemetry=estate.group_telemetry)
    protect: list[ProtectRow] = []
    for mapping in config.protect_mappings:
        found = issues.attempt(partial(load_protect_rows, resolve(base, mapping.file), mapping.capabilities, kb,
                                       tuple(mapping.applicable_to)))
        protect += found[0] if found else []
        issues.extend(found[1] if found else [])
    claims = load_blocking_catalog(kb)
    issues.extend(claims.issues)
    credits = merge_credits(device_credits(inventory.devices, claims, estate.groups, kb),
                            protect_credits(protect, estate.groups, kb))
    tests = _load_tests(config, base, kb, issues)
    since = (as_of - dt.timedelta(days=config.validation_window_days)).isoformat()
    vals = assess_cells(tests, _place(estate, kb, issues), since)
    issues.raise_if_errors()
    rules = by_technique(healths)
    inp = ScoringInputs(kb, estate, weights, {(s.technique, s.system_group): s for s in vis_scores},
                        rules, derived_credit(rules, config.subtechnique_credit), manual, credits, vals)
    return ScanResult(
        config=config, base=base, kb=kb, catalog=catalog, inventory=inventory, estate=estate,
        telemetry=estate.estate_telemetry, ruleset=ruleset, healths=healths, profiles=profiles, weights=weights,
        visibility_scores=vis_scores, scoring=inp, cells={}, visibility={}, detection={}, prevention={},
        validation={}, gaps=[], onboarding=[], hints={}, hardening=_hardening(inventory, claims), tests=tests,
        issues=list(issues), provenance=provenance, inventory_sha256=_fingerprint([inventory_path]),
        as_of=as_of.isoformat(),
        rules_sha256=_fingerprint([resolve(base, s.path) for s in config.rules], ruleset.files),
    )


def with_extra_rules(before: ScanResult, rules: Sequence[Rule]) -> ScanResult:
    """What-if: the same scan with ``rules`` assumed deployed, re-scored from the first scan's inputs (nothing is
    read again; only the new rules are judged). They are accounted for as one pseudo file."""
    added = assess(rules, before.kb, before.estate.health_scopes)
    healths = [*before.healths, *added]
    ruleset = RuleSet((*before.ruleset.rules, *rules), (*before.ruleset.files, FileResult(
        "(what-if: assumed deployed)", None, rules=len(rules))), before.ruleset.issues)
    by_tid = by_technique(healths)
    scoring = replace(before.scoring, rules=by_tid, derived=derived_credit(by_tid, before.config.subtechnique_credit))
    return score_scan(replace(before, ruleset=ruleset, healths=healths, scoring=scoring))


def score_scan(read: ScanResult, progress: Progress = _quiet) -> ScanResult:
    """A scan's second half: the result of :func:`read_scan` with its cells, headline entries, gaps and
    recommendations worked out from ``read.scoring``."""
    progress("cells, gaps and recommendations")
    inp, kb = read.scoring, read.kb
    in_scope = {t: w.weight for t, w in inp.weights.items() if w.weight > 0}
    techniques = [t for tid in in_scope if (t := kb.technique(tid)) is not None]
    cells, head, detection, prevention = build_cells(inp, techniques)
    result = replace(read, cells=cells, visibility=_rollup_visibility(cells, head), detection=detection,
                     prevention=prevention, validation=_validation_rollup(inp.validation, head))
    result.onboarding = next_data_sources(kb, read.catalog, read.inventory, in_scope, estate=read.estate)
    undetected = [t for t, c in head.items() if c.gap is GapClass.RULE_GAP]
    result.hints = rule_hints(kb, read.estate, undetected, {t: head[t].group for t in undetected})
    result.gaps = _classify_gaps(result, head)
    return result


def _is_file(base: Path, value: str) -> bool:
    return value.endswith((".yaml", ".yml", ".json")) or resolve(base, value).is_file()
