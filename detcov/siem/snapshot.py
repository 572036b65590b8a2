"""A pull: run a connector, write its rules snapshot and log-flow file, and record the provenance.

Layout of a pull folder (``detcov pull ... --out DIR``)::

    DIR/manifest.json          who / when / where / what (no secret): SIEM, URLs, scope, operator, credential
                               *origins*, TLS mode, per part the file, count, time, SHA-256 or the error
    DIR/rules/<native file>    savedsearches.conf | kibana-rules.ndjson | sentinel-alert-rules.json |
                               defender-detections.yaml: read by the same readers as exported files
    DIR/flow/<siem id>.csv     detcov's flow CSV (``detcov.siem.flow``)

A pull is cached: a second pull of the same SIEM and scope within ``max_age`` reuses the folder. A part that fails
keeps the previous file (never a half list of rules that would look like deleted rules) and the manifest says so.
"""

from __future__ import annotations

import getpass
import hashlib
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson

from detcov import __version__
from detcov.errors import Issue, Location, Severity
from detcov.fileio import atomic_write
from detcov.siem.flow import MANIFEST_NAME, FlowObservation, flow_csv, format_time
from detcov.siem.http import SiemError

MANIFEST_TYPE = "siem-pull"
MANIFEST_VERSION = 1
PARTS = ("rules", "flow")
Progress = Callable[[str, int, int | None], None]  # (what, done, total or None)


def no_progress(what: str, done: int, total: int | None) -> None:
    """The default progress callback: silent."""


@dataclass(frozen=True, slots=True)
class RulesSnapshot:
    """Pulled rules in a native format the rule readers read."""

    file_name: str
    content: bytes
    count: int  # rules (or saved searches) the SIEM returned
    reader_format: str  # the --format family that reads it: splunk | elastic | sentinel | defender


@dataclass(frozen=True, slots=True)
class FlowSnapshot:
    observations: tuple[FlowObservation, ...]
    warnings: tuple[str, ...] = ()  # partial answers (failed shards, partial query errors)
    query: str = ""


class Connector(Protocol):
    """What ``detcov pull`` needs from a SIEM connector."""

    product: str
    siem: str

    def endpoint(self) -> dict[str, str]: ...  # URLs and scope (app / space / workspace / tenant), no secret

    def credential_origins(self) -> list[str]: ...

    def request_count(self) -> int: ...

    def pull_rules(self, progress: Progress) -> RulesSnapshot: ...

    def pull_flow(self, window_days: int, progress: Progress) -> FlowSnapshot: ...


@dataclass(frozen=True, slots=True)
class PartRecord:
    status: str  # ok | failed | skipped
    pulled_at: str | None = None
    file: str | None = None
    count: int | None = None
    sha256: str | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    query: str | None = None


@dataclass(frozen=True)
class PullManifest:
    siem: str
    product: str
    pulled_at: str
    endpoint: dict[str, str]
    operator: str
    credentials: tuple[str, ...]
    tls: str
    window_days: int
    requests: int
    parts: dict[str, PartRecord] = field(default_factory=dict)
    detcov_version: str = __version__
    cached: bool = False  # set when a pull reused this manifest (never written)

    @property
    def ok(self) -> bool:
        return all(p.status in ("ok", "skipped") for p in self.parts.values())

    def to_json(self) -> bytes:
        doc = {"version": MANIFEST_VERSION, "file_type": MANIFEST_TYPE, **asdict(self)}
        doc.pop("cached")
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"

    def provenance(self) -> str:
        """One line for scan reports: what was pulled from where, when, by whom (no secret)."""
        bits = []
        for name, part in self.parts.items():
            if part.status == "ok":
                bits.append(f"{part.count} {'rules' if name == 'rules' else 'flow observations'} at {part.pulled_at}")
            elif part.status == "failed":
                bits.append(f"{name} FAILED ({part.error})")
        where = self.endpoint.get("url", "?")
        scope = ", ".join(f"{k} {v}" for k, v in self.endpoint.items() if k != "url" and not k.endswith("_url"))
        return (f"{self.siem} ({self.product}) pulled from {where}{f' [{scope}]' if scope else ''} by "
                f"{self.operator}, TLS {self.tls}: " + "; ".join(bits))


def load_manifest(folder: Path) -> tuple[PullManifest | None, list[Issue]]:
    """The manifest of a pull folder (None when the folder has none)."""
    path = folder / MANIFEST_NAME if folder.is_dir() else folder
    if not path.is_file():
        return None, []
    try:
        doc = orjson.loads(path.read_bytes())
        if doc.get("file_type") != MANIFEST_TYPE or doc.get("version") != MANIFEST_VERSION:
            raise ValueError(f"file_type {doc.get('file_type')!r} version {doc.get('version')!r}")
        parts = {k: PartRecord(**{**v, "warnings": tuple(v.get("warnings", ()))}) for k, v in doc["parts"].items()}
        keep = {k: doc[k] for k in ("siem", "product", "pulled_at", "endpoint", "operator", "tls", "window_days",
                                    "requests", "detcov_version")}
        return PullManifest(**keep, credentials=tuple(doc["credentials"]), parts=parts), []
    except (OSError, orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, [Issue(f"unreadable pull manifest ({exc})", Location.of(path),
                            "pull again with `detcov pull ... --refresh`")]


def find_manifests(paths: Sequence[Path]) -> tuple[list[PullManifest], list[Issue]]:
    """The pulls behind some scan inputs (rule paths, log_flow paths): a pull folder, a file or folder inside one
    (``pulled/splunk/rules``), or a folder of pull folders. Each pull once, in path order."""
    folders: dict[Path, None] = {}
    for path in paths:
        here = path if path.is_dir() else path.parent
        for candidate in (here, here.parent):
            if (candidate / MANIFEST_NAME).is_file():
                folders.setdefault(candidate.resolve())
                break
        else:
            if here.is_dir():
                for child in sorted(here.iterdir()):
                    if (child / MANIFEST_NAME).is_file():
                        folders.setdefault(child.resolve())
    manifests: list[PullManifest] = []
    issues: list[Issue] = []
    for folder in folders:
        manifest, problems = load_manifest(folder)
        issues.extend(problems)
        if manifest is not None:
            manifests.append(manifest)
    return manifests, issues


def _fresh(manifest: PullManifest | None, connector: Connector, parts: tuple[str, ...], max_age: timedelta,
           now: datetime, window_days: int) -> bool:
    if manifest is None or max_age <= timedelta(0) or manifest.endpoint != connector.endpoint():
        return False
    if "flow" in parts and manifest.window_days != window_days:
        return False
    if manifest.siem != connector.siem or not all(manifest.parts.get(p, PartRecord("x")).status == "ok"
                                                  for p in parts):
        return False
    pulled = datetime.fromisoformat(manifest.pulled_at)
    return timedelta(0) <= now - pulled <= max_age


def run_pull(connector: Connector, out: Path, tls: str, *, parts: tuple[str, ...] = PARTS, window_days: int = 30,
             max_age: timedelta = timedelta(0), now: datetime | None = None,
             progress: Progress = no_progress) -> tuple[PullManifest, list[Issue]]:
    """Pull ``parts`` into ``out`` (or reuse a fresh cached pull); return the manifest and the problems."""
    now = now or datetime.now(UTC)
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST_NAME).is_file():
        raise SiemError(f"{out} is not empty and is not a pull folder (no {MANIFEST_NAME}): detcov would write "
                        "rules/ and flow/ among your files", "choose a new or empty --out folder")
    previous, issues = load_manifest(out)
    if _fresh(previous, connector, parts, max_age, now, window_days):
        assert previous is not None
        return replace(previous, cached=True), issues
    same = previous is not None and previous.siem == connector.siem and previous.endpoint == connector.endpoint()
    records = dict(previous.parts) if previous is not None and same else {}
    for part in PARTS:
        if part not in parts:
            records.setdefault(part, PartRecord("skipped"))
            continue
        try:
            records[part] = _pull_part(connector, part, out, window_days, progress)
        except SiemError as exc:
            old = records.get(part)
            kept = f"; the previous {part} file of {old.pulled_at} is kept" if old and old.file else ""
            records[part] = replace(old, status="failed", error=str(exc.issues[0]) + kept) if old and old.file \
                else PartRecord("failed", error=str(exc.issues[0]))
            issues.append(Issue(f"{connector.siem}: {part} not pulled: {exc.issues[0].message}{kept}", None,
                                exc.issues[0].hint))
        else:
            issues.extend(Issue(f"{connector.siem}: {w}", None, None, Severity.WARNING)
                          for w in records[part].warnings)
    manifest = PullManifest(
        siem=connector.siem, product=connector.product, pulled_at=_iso(now), endpoint=connector.endpoint(),
        operator=_operator(), credentials=tuple(connector.credential_origins()), tls=tls, window_days=window_days,
        requests=connector.request_count(), parts=records)
    atomic_write(out / MANIFEST_NAME, manifest.to_json())
    return manifest, issues


def _pull_part(connector: Connector, part: str, out: Path, window_days: int, progress: Progress) -> PartRecord:
    when = _iso(datetime.now(UTC))
    if part == "rules":
        snap = connector.pull_rules(progress)
        name = f"rules/{snap.file_name}"
        atomic_write(out / name, snap.content)
        return PartRecord("ok", when, name, snap.count, hashlib.sha256(snap.content).hexdigest())
    flow = connector.pull_flow(window_days, progress)
    content = flow_csv(flow.observations)
    name = f"flow/{connector.siem}.csv"
    atomic_write(out / name, content)
    return PartRecord("ok", when, name, len(flow.observations), hashlib.sha256(content).hexdigest(),
                      warnings=flow.warnings, query=flow.query or None)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _operator() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown user"
    return f"{user}@{socket.gethostname()}"


RULE_NOUNS = {"splunk": "saved searches", "elastic": "detection rules", "sentinel": "analytics rules",
              "defender-xdr": "custom detections"}
FLOW_NOUNS = {"splunk": "index/sourcetype pairs", "elastic": "indices / data streams", "sentinel": "tables",
              "defender-xdr": "tables"}


def summary_lines(manifest: PullManifest) -> list[str]:
    """What a pull did, for the terminal."""
    lines = []
    for name, part in manifest.parts.items():
        if part.status == "ok":
            nouns = RULE_NOUNS if name == "rules" else FLOW_NOUNS
            what = nouns.get(manifest.product, name)
            lines.append(f"{name}: {part.count} {what} → {part.file} ({part.pulled_at})")
        elif part.status == "failed":
            kept = f"; the previous {part.file} of {part.pulled_at} is kept" if part.file else ""
            lines.append(f"{name}: FAILED (see the error below){kept}")
    return lines


def flow_as_of(manifest: PullManifest | None) -> datetime | None:
    """When the flow evidence of a pull was taken (the ``as_of`` to measure silence against)."""
    part = manifest.parts.get("flow") if manifest else None
    return datetime.fromisoformat(part.pulled_at) if part and part.pulled_at else None


def json_items(doc: Any, key: str) -> list[Mapping[str, Any]]:
    """``doc[key]`` as a list of objects (connectors' page bodies); anything else is an unexpected answer."""
    items = doc.get(key) if isinstance(doc, Mapping) else None
    if not isinstance(items, list):
        raise SiemError(f"unexpected answer: no {key!r} list in the response",
                        "check that --url points at the right API and version")
    return [i for i in items if isinstance(i, Mapping)]


__all__ = ["PARTS", "Connector", "FlowSnapshot", "PartRecord", "Progress", "PullManifest", "RulesSnapshot",
           "find_manifests", "flow_as_of", "format_time", "json_items", "load_manifest", "no_progress", "run_pull",
           "summary_lines"]
