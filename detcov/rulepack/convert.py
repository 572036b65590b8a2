"""Convert chosen Sigma rules into the target SIEM's query language with pySigma backends.

Each target has an ordered list of processing pipelines, chosen by the rule's ``logsource.product`` and put in
the order the institution's telemetry suggests (Sysmon collected → the Sysmon pipeline first, else the Windows
audit pipeline; Defender for Endpoint (``edr``) → Sentinel's Defender XDR tables first, …). With system groups,
a device-specific pipeline only runs where that device is deployed, and the pipeline that reaches the most
hosts of the rule's target groups goes first (Windows audit 4688 on every Windows group beats Sysmon on the
servers only). The first pipeline that converts the rule wins; when none does, the :class:`Converted` carries
every backend's reason — a rule is never dropped. pySigma pipelines change a rule in place, so the rule is
parsed afresh for every attempt.

Only the plain query formats of the backends are used: the packs are written by :mod:`detcov.rulepack.pack`
(the Elastic backend's SIEM-rule formats would download ATT&CK from the internet).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detcov.datasources.telemetry import CollectedTelemetry
from detcov.rulepack.model import Candidate, Converted, SigmaExtras, Target
from detcov.rulepack.scope import GroupView, reach

SourceReader = Callable[[Candidate], str]
# Sigma (product, service) → the Log Analytics table Sentinel keeps it in (Azure Monitor schema).
SENTINEL_SERVICE_TABLES: dict[tuple[str, str], str] = {
    ("windows", "security"): "SecurityEvent",
    ("windows", "system"): "Event",
    ("windows", "application"): "Event",
    ("azure", "signinlogs"): "SigninLogs",
    ("azure", "auditlogs"): "AuditLogs",
    ("azure", "activitylogs"): "AzureActivity",
    ("aws", "cloudtrail"): "AWSCloudTrail",
    ("m365", "exchange"): "OfficeActivity",
    ("m365", "sharepoint"): "OfficeActivity",
    ("linux", "syslog"): "Syslog",
}


@dataclass(frozen=True, slots=True)
class PipelineChoice:
    """One way to convert: a named pipeline factory, the Sigma products it is for (empty: any) and the
    catalogue device type that makes it the first choice."""

    name: str
    products: frozenset[str]
    prefer: str | None
    factory: Callable[[SigmaExtras], Any] | None  # rule's logsource -> sigma ProcessingPipeline; None: none


def _splunk_choices() -> tuple[PipelineChoice, ...]:
    from sigma.pipelines.splunk.splunk import splunk_windows_pipeline
    from sigma.pipelines.sysmon.sysmon import sysmon_pipeline
    from sigma.pipelines.windows.windows import windows_audit_pipeline

    def _splunk_windows() -> Any:
        return splunk_windows_pipeline()  # type: ignore[no-untyped-call]

    win = frozenset({"windows"})
    return (
        PipelineChoice("sysmon+splunk_windows", win, "sysmon",
                       lambda _: sysmon_pipeline() + _splunk_windows()),
        PipelineChoice("windows-audit+splunk_windows", win, "windows-security",
                       lambda _: windows_audit_pipeline() + _splunk_windows()),
        PipelineChoice("windows-audit (PowerShell log)+splunk_windows", win, "powershell",
                       lambda _: windows_audit_pipeline() + _splunk_windows()),
        PipelineChoice("none (Sigma field names)", frozenset(), None, None),
    )


def _elastic_choices() -> tuple[PipelineChoice, ...]:
    from sigma.pipelines.elasticsearch.kubernetes import ecs_kubernetes
    from sigma.pipelines.elasticsearch.macos import ecs_macos_esf
    from sigma.pipelines.elasticsearch.windows import ecs_windows
    from sigma.pipelines.elasticsearch.zeek import ecs_zeek_beats

    return (
        PipelineChoice("ecs_windows", frozenset({"windows"}), None, lambda _: ecs_windows()),
        PipelineChoice("ecs_zeek_beats", frozenset({"zeek"}), None, lambda _: ecs_zeek_beats()),
        PipelineChoice("ecs_macos_esf", frozenset({"macos"}), None, lambda _: ecs_macos_esf()),
        PipelineChoice("ecs_kubernetes", frozenset({"kubernetes"}), None, lambda _: ecs_kubernetes()),
        PipelineChoice("none (Sigma field names)", frozenset(), None, None),
    )


def _sentinel_choices() -> tuple[PipelineChoice, ...]:
    from sigma.pipelines.azuremonitor.azuremonitor import azure_monitor_pipeline
    from sigma.pipelines.microsoftxdr.microsoftxdr import microsoft_xdr_pipeline
    from sigma.pipelines.sentinelasim.sentinelasim import sentinel_asim_pipeline

    return (
        PipelineChoice("microsoft_xdr", frozenset({"windows", "linux", "macos"}), "edr",
                       lambda _: microsoft_xdr_pipeline()),
        PipelineChoice("azure_monitor", frozenset({"windows"}), "windows-security",
                       lambda _: azure_monitor_pipeline()),
        PipelineChoice("azure_monitor (table by service)", frozenset(), None,
                       lambda x: azure_monitor_pipeline(query_table=service_table(x))),
        PipelineChoice("sentinel_asim", frozenset(), None, lambda _: sentinel_asim_pipeline()),
    )


def service_table(extras: SigmaExtras) -> str:
    """The Sentinel table of a service-based Sigma log source (``windows/security`` → ``SecurityEvent``)."""
    key = ((extras.product or "").lower(), (extras.service or "").lower())
    table = SENTINEL_SERVICE_TABLES.get(key)
    if table is None:
        raise ValueError(f"no Sentinel table known for logsource {key[0] or '-'}/{key[1] or '-'}")
    return table


def _backend(target: Target, pipeline: Any) -> Any:
    if target is Target.SPLUNK:
        from sigma.backends.splunk.splunk import SplunkBackend

        return SplunkBackend(pipeline)
    if target is Target.ELASTIC:
        from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend

        return LuceneBackend(pipeline)
    if target is Target.ELASTIC_ESQL:
        from sigma.backends.elasticsearch.elasticsearch_esql import ESQLBackend

        return ESQLBackend(pipeline)
    from sigma.backends.kusto.kusto import KustoBackend

    return KustoBackend(pipeline)


def pipeline_choices(target: Target) -> tuple[PipelineChoice, ...]:
    if target is Target.SPLUNK:
        return _splunk_choices()
    if target is Target.SENTINEL:
        return _sentinel_choices()
    return _elastic_choices()


def ordered_choices(choices: Iterable[PipelineChoice], product: str | None,
                    telemetry: CollectedTelemetry | None) -> list[PipelineChoice]:
    """The pipelines that apply to a product; with telemetry, those whose device type is not collected go
    last (stable order). Without telemetry, the declared order."""
    key = (product or "").lower()
    usable = [c for c in choices if not c.products or key in c.products]
    if telemetry is None:
        return usable
    return sorted(usable, key=lambda c: 0 if c.prefer is None or c.prefer in telemetry.device_types else 1)


def scoped_choices(choices: Sequence[PipelineChoice], candidate: Candidate,
                   groups: Sequence[GroupView]) -> list[tuple[PipelineChoice, tuple[GroupView, ...]]]:
    """Each pipeline with the candidate's target groups where it would run: a device-specific pipeline (Sysmon
    field names, Windows audit field names, Defender XDR tables) only where that device alone feeds the rule's
    log source (the Windows audit log has no file events without SACLs, whatever the EDR sees).
    Specific pipelines first, by reach (then declared order); generic ones after, on every target group."""
    mine = [g for g in groups if g.name in candidate.groups]
    platforms = [p for g in mine for p in g.platforms]
    fed = dict(candidate.by_device)
    specific = [(c, tuple(g for g in mine if g.name in fed.get(c.prefer, ()))) for c in choices if c.prefer]
    specific = [(c, t) for c, t in specific if t]
    specific.sort(key=lambda ct: -reach(ct[1], groups, platforms))
    return specific + [(c, tuple(mine)) for c in choices if not c.prefer]


def read_source(candidate: Candidate) -> str:
    return Path(candidate.rule.path).read_text(encoding="utf-8-sig")


def reason(exc: Exception) -> str:
    """A backend's error as one line: its class and the first line of its message."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    if first.startswith("Unable to determine table name"):
        first = "the pipeline has no table for this log source"
    return f"{type(exc).__name__}: {first}"[:400]


def convert_one(source: str, index: int, target: Target, choice: PipelineChoice,
                extras: SigmaExtras | None = None) -> str:
    """The query of one rule of a Sigma YAML text (``index``: which rule of a collection)."""
    from sigma.collection import SigmaCollection

    collection = SigmaCollection.from_yaml(source)
    rules = collection.rules
    if index >= len(rules):
        raise ValueError(f"the file has {len(rules)} rule(s), not {index + 1}")
    pipeline = choice.factory(extras or SigmaExtras()) if choice.factory is not None else None
    backend = _backend(target, pipeline)
    queries = backend.convert_rule(rules[index])
    text = "\n".join(str(q) for q in queries).strip()
    if not text:
        raise ValueError("the backend returned an empty query")
    return text


def convert_candidate(candidate: Candidate, target: Target, telemetry: CollectedTelemetry | None = None,
                      source: SourceReader = read_source, groups: Sequence[GroupView] | None = None) -> Converted:
    """One candidate in the target language: the first pipeline that works, else all the reasons. With
    ``groups`` (and a candidate that names its target groups), pipelines are tried in :func:`scoped_choices`
    order and the result runs on the groups of the pipeline that converted it."""
    from sigma.exceptions import SigmaError

    try:
        text = source(candidate)
    except OSError as exc:
        return Converted(candidate, target, error=f"cannot read the Sigma rule: {exc.strerror or exc}")
    _, _, number = candidate.rule.id.partition("#")
    index = int(number) - 1 if number.isdigit() else 0
    failures: list[str] = []
    usable = ordered_choices(pipeline_choices(target), candidate.extras.product, telemetry)
    attempts = (scoped_choices(usable, candidate, groups) if groups and candidate.groups
                else [(c, ()) for c in usable])
    for choice, where in attempts:
        try:
            query = convert_one(text, index, target, choice, candidate.extras)
            device = choice.prefer or next((t for t, _ in candidate.by_device), None)
            return Converted(candidate, target, query, choice.name, groups=tuple(g.name for g in where),
                             device_type=device)
        except (SigmaError, ValueError, KeyError, TypeError, NotImplementedError) as exc:
            failures.append(f"{choice.name}: {reason(exc)}")
    return Converted(candidate, target, error="; ".join(failures) or "no pipeline for this log source")


def convert(candidates: Sequence[Candidate], target: Target | str,
            telemetry: CollectedTelemetry | None = None, source: SourceReader = read_source,
            groups: Sequence[GroupView] | None = None) -> list[Converted]:
    """Every candidate converted (or with the backend's reason), in order."""
    goal = Target(target)
    return [convert_candidate(c, goal, telemetry, source, groups) for c in candidates]
