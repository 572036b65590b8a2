"""Read rules from files and folders in any supported format; account for every file.

:func:`read_rules` walks the paths, recognises each file's format (extension first, then content), hands it to
the format's reader and records a :class:`~detcov.rules.model.FileResult`: parsed into N rules, or skipped
with a
reason (not a rule, malformed YAML at line L, binary, too large, unsupported format). Nothing raises for bad
input; the totals always add up.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from detcov.attack import AttackKB
from detcov.attack.sources import paused_gc
from detcov.errors import DetcovError, Issue, Location, Severity
from detcov.rules import cache as rule_cache
from detcov.rules import defender, dettect, elastic, sentinel, sigma, splunk, tabular
from detcov.rules.common import MAX_FILE_BYTES, Parsed, ReadContext, SkipFile, decode, yaml_documents
from detcov.rules.model import FORMAT_CHOICES, FileResult, Placement, Rule, RuleFormat, RuleSet
from detcov.rules.sigma_correlation import link_correlations
from detcov.workers import process_budget

DOC_SUFFIXES = frozenset(
    {".md", ".rst", ".txt", ".html", ".htm", ".pdf", ".png", ".jpg", ".jpeg", ".gif", ".svg"}
)
DOC_NAMES = frozenset(
    {"license", "licence", "notice", "readme", "codeowners", "authors", "changelog", "copying"}
)
YAML_SUFFIXES = frozenset({".yml", ".yaml"})
SKIP_DIRS = frozenset({".git", "__pycache__", ".venv", "node_modules"})

_YAML_KINDS: tuple[tuple[RuleFormat, Callable[[Any], bool]], ...] = (
    (RuleFormat.DETTECT, dettect.is_dettect),
    (RuleFormat.SIGMA, sigma.is_sigma),
    (RuleFormat.DEFENDER, defender.is_defender),
    (RuleFormat.SPLUNK_ESCU, splunk.is_escu),
    (RuleFormat.SENTINEL_YAML, sentinel.is_sentinel),
)


def iter_files(paths: Iterable[str | Path], unreadable: list[OSError] | None = None
               ) -> Iterator[tuple[str, bool]]:
    """(file, exists) for every file under the paths, sorted within each folder (tool folders like .git pruned);
    folders that cannot be listed are appended to ``unreadable``."""
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield str(path), path.is_file()
            continue
        found: list[str] = []
        for folder, dirs, names in os.walk(path, onerror=unreadable.append if unreadable is not None else None):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
            found.extend(f"{folder}{os.sep}{n}" for n in names)
        yield from ((name, True) for name in sorted(found))


def count_files(paths: Iterable[str | Path], limit: int) -> int:
    """How many files there are under ``paths`` (as :func:`iter_files` walks them), counted up to ``limit``: a quick
    size estimate before reading (10,000 rule files: a few milliseconds to know there are at least 5,000)."""
    count = 0
    for raw in paths:
        stack = [str(raw)]
        while stack and count < limit:
            try:
                with os.scandir(stack.pop()) as found:
                    for entry in found:
                        if not entry.is_dir():
                            count += 1
                        elif entry.name not in SKIP_DIRS and not entry.is_symlink():  # as os.walk: not followed
                            stack.append(entry.path)
            except NotADirectoryError:
                count += 1
            except OSError:
                continue
    return min(count, limit)


def read_rules(
    paths: Iterable[str | Path] | str | Path,
    kb: AttackKB,
    fmt: str = "auto",
    *,
    csv_columns: Mapping[str, str] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    use_cache: bool = True,
    workers: int | None = None,
    queries: bool = True,
    placement: Placement | None = None,
) -> RuleSet:
    """Every rule under ``paths`` (files or folders), normalised against ``kb``; ``fmt`` restricts the format
    family (``auto``, ``sigma``, ``splunk``, ``elastic``, ``sentinel``, ``defender``, ``csv``,
    ``dettect``).

    Files unchanged since the last read (same path, size and modification time) come from the rule cache
    (:mod:`detcov.rules.cache`); the others are parsed, by ``workers`` processes when there are many
    (default: one per CPU, ``$DETCOV_WORKERS`` to override; 1 parses in this process). The result is the
    same either way, in the same order. ``queries=False`` leaves each rule's query text out (what a scan asks:
    it scores from log sources and tags, and 100,000 queries are ~70 MB); ``placement``: every rule placed where its
    rule source deploys it (:meth:`Placement.place`; a scan's rules, built so straight from an unchanged cache)."""
    if fmt not in FORMAT_CHOICES:
        raise DetcovError(f"unknown rule format {fmt!r}", hint=f"use one of {', '.join(FORMAT_CHOICES)}")
    with paused_gc():  # ~20 objects per rule, none in cycles: the cyclic GC would only rescan them
        return _read_rules([paths] if isinstance(paths, str | Path) else list(paths), kb,
                           _Setup(fmt, dict(csv_columns or {}), max_bytes, queries), use_cache, workers, placement)


def _read_rules(paths: list[str | Path], kb: AttackKB, setup: _Setup, use_cache: bool, workers: int | None,
                placement: Placement | None) -> RuleSet:
    issues: list[Issue] = []
    listed: list[tuple[str, rule_cache.Stamp | None]] = []  # (size, mtime): a stat result is ~10x larger
    unreadable: list[OSError] = []
    for name, exists in iter_files(paths, unreadable):
        if not exists:
            issues.append(Issue("no such file or folder", Location(name), "check the path"))
            continue
        listed.append((name, _stamp(name)))
    key = rule_cache.cache_key([str(p) for p in paths], kb.info.sha256, setup.options()) \
        if use_cache and kb.info.sha256 and rule_cache.codec_matches() else None
    stamps = {name: st for name, st in listed if st is not None}
    with rule_cache.opened(key) if key else contextlib.nullcontext() as stored:
        index = stored.index if stored else {}
        wanted = {name for name, st in stamps.items() if index.get(name) == st}
        unchanged = len(wanted) == len(stamps) == len(index)  # the cache holds exactly these files: nothing to save
        shared = rule_cache.Shared()  # one object per distinct resolution, log source … across the whole read
        cached, lines = rule_cache.read(stored, wanted, placement, keep=not unchanged, shared=shared)
    if len(cached) != len(wanted):  # a damaged cache: every file is parsed again
        cached, lines = {}, []
    todo = [(name, st) for name, st in listed if name not in cached]
    parsed, new_lines = _parse_files(todo, kb, setup, workers, placement, shared, lines=key is not None)
    entries = {name: cached.get(name) or parsed[name] for name, _ in listed}
    if key and not (unchanged and len(cached) == len(stamps)):
        rule_cache.save(key, [*lines, *new_lines], stamps)  # lines: the cached files still wanted, the parsed ones
    files = [e.result for e in entries.values()]
    rules = [r for e in entries.values() for r in e.rules]
    issues += [Issue(f"cannot read this folder ({exc.strerror or exc}): its rules are not counted",
                     Location(str(exc.filename)), "give the user running detcov read access to it")
               for exc in unreadable]
    return RuleSet(tuple(link_correlations(rules)), tuple(files), tuple(issues))


def other_release_issues(ruleset: RuleSet, shown: int = 3) -> list[Issue]:
    """One warning per id of another ATT&CK release that counts for nothing here, with the rules that carry it
    (call it once on everything a run read, so each id is reported once)."""
    out: list[Issue] = []
    for res, carriers in ruleset.other_release_ids().values():
        names = ", ".join(f"{r.path} ({r.title})" for r in carriers[:shown])
        more = f" and {len(carriers) - shown} more" if len(carriers) > shown else ""
        out.append(Issue(f"{res.note}; not counted in {len(carriers)} rule{'s' if len(carriers) != 1 else ''}: "
                         f"{names}{more}", None, "retag these rules with an id of the loaded ATT&CK version, or "
                         "load the ATT&CK release they were written for (--attack PATH)", Severity.WARNING))
    return out


PARALLEL_MIN_FILES = 64
_CHUNK = 128  # files per parse job at least (and per cache line a worker writes) …
_MAX_CHUNK = 1024  # … and at most: about 8 jobs per worker, so that they finish together


@dataclass(frozen=True)
class _Setup:
    """How files are read (everything but the knowledge base): picklable, the same in every worker."""

    fmt: str
    csv_columns: dict[str, str]
    max_bytes: int
    queries: bool = True  # keep each rule's query text (a scan never reads it: 100k rules, ~70 MB less)

    def options(self) -> dict[str, Any]:
        return {"format": self.fmt, "csv_columns": self.csv_columns, "max_bytes": self.max_bytes,
                "queries": self.queries}


def _stamp(name: str) -> rule_cache.Stamp | None:
    try:
        return rule_cache.stamp_of(os.stat(name))  # noqa: PTH116 (a str: 100,000 files, no Path objects)
    except OSError:
        return None


def _entry(name: str, st: rule_cache.Stamp | None, ctx: ReadContext, setup: _Setup) -> rule_cache.Entry:
    result, rules = read_file(Path(name), ctx, setup.fmt, setup.csv_columns, setup.max_bytes,
                              size=st[0] if st else None)
    if not setup.queries:  # a reader that builds no query text when told (Sigma) leaves nothing to copy here
        rules = [r.without_query() for r in rules]
    return rule_cache.Entry(result, tuple(rules))


def worker_count(files: int, workers: int | None = None) -> int:
    """Processes to parse ``files`` files with: ``workers``, else ``$DETCOV_WORKERS``, else one per CPU (only for
    enough files to pay for starting them, and only where processes can fork)."""
    workers = process_budget(workers)
    if files < PARALLEL_MIN_FILES or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(workers, files // _CHUNK + 1))


def _chunk_size(files: int, jobs: int) -> int:
    return max(_CHUNK, min(_MAX_CHUNK, files // (jobs * 8)))


Todo = Sequence[tuple[str, rule_cache.Stamp | None]]


def _parse_files(todo: Todo, kb: AttackKB, setup: _Setup, workers: int | None, placement: Placement | None,
                 shared: rule_cache.Shared, *, lines: bool
                 ) -> tuple[dict[str, rule_cache.Entry], list[rule_cache.Line]]:
    """The files parsed (their rules placed, with ``placement``) and, with ``lines``, their cache lines (rules as
    their files say). Parse workers send each chunk as its cache line, which this process decodes: no rule is
    pickled, and the cache is saved without encoding one here."""
    if not todo:  # (no reading context either: its log-source mappings take 0.1 s to load)
        return {}, []
    jobs = worker_count(len(todo), workers)
    if jobs <= 1:
        ctx = ReadContext(kb, queries=setup.queries)
        done = [(p, _entry(p, st, ctx, setup)) for p, st in todo]
        encoded = rule_cache.encode_lines(done) if lines else []
        place = placement.place if placement else None
        return {p: replace(e, rules=tuple(map(place, e.rules))) if place else e for p, e in done}, encoded
    size = _chunk_size(len(todo), jobs)  # few lines: each carries its own tables
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    out: dict[str, rule_cache.Entry] = {}
    encoded = []
    # fork: the workers inherit the knowledge base instead of unpickling 30 MB of it
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker,
                             initargs=(kb, setup)) as pool:
        for line in pool.map(_parse_chunk, chunks):  # decoded as they come
            out.update(rule_cache.decode_line(line.data, placement, shared))
            encoded.append(line)
    return out, encoded if lines else []


_WORKER: tuple[ReadContext, _Setup] | None = None


def _init_worker(kb: AttackKB, setup: _Setup) -> None:
    global _WORKER
    _WORKER = (ReadContext(kb, queries=setup.queries), setup)


def _parse_chunk(chunk: Todo) -> rule_cache.Line:
    assert _WORKER is not None
    ctx, setup = _WORKER
    return rule_cache.encode_line([(p, _entry(p, st, ctx, setup)) for p, st in chunk])


def read_file(
    path: Path,
    ctx: ReadContext,
    fmt: str = "auto",
    csv_columns: Mapping[str, str] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    *,
    size: int | None = None,
) -> tuple[FileResult, list[Rule]]:
    """One file → its accounting (with the SHA-256 of the bytes read) and its rules (``size``: its size as listed,
    else it is looked up)."""
    name = str(path)
    digest: str | None = None
    try:
        raw = _raw_bytes(path, max_bytes, size)
        digest = hashlib.sha256(raw).hexdigest()
        kind, parsed = _read(path, raw, ctx, fmt, csv_columns)
    except SkipFile as skip:
        return FileResult(name, None, skipped=skip.reason, sha256=digest), []
    except OSError as exc:
        return FileResult(name, None, skipped=f"unreadable: {exc.strerror or exc}", sha256=digest), []
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError, IndexError, csv.Error) as exc:
        return FileResult(name, None, skipped=f"unreadable: {type(exc).__name__}: {exc}"[:300], sha256=digest), []
    return FileResult(
        name, kind, len(parsed.rules), None, parsed.items_skipped, tuple(parsed.issues), digest
    ), parsed.rules


def _allowed(kind: RuleFormat, fmt: str) -> None:
    if fmt != "auto" and kind.family != fmt:
        raise SkipFile(f"not a {fmt} rule: looks like {kind.value} (--format {fmt} was asked)")


def _raw_bytes(path: Path, max_bytes: int, size: int | None) -> bytes:
    """The file's bytes, unless its name, size (``size``: as listed) or emptiness says it is no rule file."""
    if path.suffix.lower() in DOC_SUFFIXES or path.stem.lower() in DOC_NAMES:
        raise SkipFile(f"not a rule: documentation or media file ({path.name})")
    if size is None:
        size = path.stat().st_size
    if size == 0:
        raise SkipFile("empty file")
    if size > max_bytes:
        raise SkipFile(
            f"too large: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit for one file"
        )
    return path.read_bytes()


def _read(
    path: Path, raw: bytes, ctx: ReadContext, fmt: str, csv_columns: Mapping[str, str] | None
) -> tuple[RuleFormat, Parsed]:
    suffix = path.suffix.lower()
    source = decode(raw)
    if not source.strip():
        raise SkipFile("empty file")
    name = str(path)
    if suffix in YAML_SUFFIXES:
        return _read_yaml(name, source, ctx, fmt)
    if suffix == ".toml":
        _allowed(RuleFormat.ELASTIC_TOML, fmt)
        return RuleFormat.ELASTIC_TOML, elastic.read_toml(name, source, ctx)
    if suffix in (".json", ".ndjson"):
        return _read_json(name, source, ctx, fmt)
    if suffix in (".csv", ".tsv"):
        _allowed(RuleFormat.CSV, fmt)
        return RuleFormat.CSV, tabular.read_csv(name, source, ctx, csv_columns)
    if suffix == ".conf" or (suffix == "" and splunk.looks_like_conf(source)):
        _allowed(RuleFormat.SPLUNK_CONF, fmt)
        return RuleFormat.SPLUNK_CONF, splunk.read_savedsearches(name, source, ctx)
    if suffix == "":
        if source.lstrip().startswith(("{", "[")):
            return _read_json(name, source, ctx, fmt)
        return _read_yaml(name, source, ctx, fmt)
    if suffix in (".xlsx", ".xls", ".ods"):
        raise SkipFile(f"unsupported format: {suffix} spreadsheet (save the sheet as CSV)")
    raise SkipFile(f"unsupported format: {suffix} files are not rule files")


_SHALLOW = frozenset({"detection"})  # a Sigma rule's selections: only its condition is read


def _read_yaml(name: str, source: str, ctx: ReadContext, fmt: str) -> tuple[RuleFormat, Parsed]:
    docs = yaml_documents(source, shallow=_SHALLOW)
    if not docs:
        raise SkipFile("empty file: no YAML document")
    first = docs[0]
    kind = next((k for k, test in _YAML_KINDS if test(first)), None)
    if kind is None:
        if isinstance(first, Mapping) and {"source", "sourcetype"} <= first.keys():
            raise SkipFile("not a rule: Splunk data-source definition")
        keys = (
            ", ".join(str(k) for k in list(first)[:5]) if isinstance(first, Mapping) else type(first).__name__
        )
        raise SkipFile(f"not a rule: YAML without the keys of any rule format (has {keys})")
    _allowed(kind, fmt)
    if kind is RuleFormat.DETTECT:
        return kind, dettect.read_dettect(name, first, ctx)
    if kind is RuleFormat.SIGMA:
        return kind, sigma.read_sigma(name, source, docs, ctx)
    if kind is RuleFormat.DEFENDER:
        return kind, defender.read_defender(name, docs, ctx)
    if kind is RuleFormat.SPLUNK_ESCU:
        return kind, splunk.read_escu(name, docs, ctx)
    return kind, sentinel.read_sentinel_yaml(name, docs, ctx)


def _read_json(name: str, source: str, ctx: ReadContext, fmt: str) -> tuple[RuleFormat, Parsed]:
    try:
        doc = orjson.loads(source)
    except orjson.JSONDecodeError as exc:
        if source.lstrip().startswith("{") and "\n{" in source:  # NDJSON saved as .json
            _allowed(RuleFormat.KIBANA_JSON, fmt)
            return RuleFormat.KIBANA_JSON, elastic.read_ndjson(name, source, ctx)
        raise SkipFile(f"malformed JSON: {exc}") from exc
    if sentinel.is_arm(doc):
        _allowed(RuleFormat.SENTINEL_ARM, fmt)
        return RuleFormat.SENTINEL_ARM, sentinel.read_arm(name, doc, ctx)
    items = doc if isinstance(doc, list) else [doc]
    if not any(elastic.kibana_kind(i) == "rule" for i in items):
        raise SkipFile(
            f"not a rule: JSON without rules ({elastic.kibana_kind(items[0]) if items else 'empty'})"
        )
    _allowed(RuleFormat.KIBANA_JSON, fmt)
    out = Parsed()
    for number, item in enumerate(items, start=1):
        if elastic.kibana_kind(item) == "rule":
            out.rules.append(elastic.kibana_rule(item, Location(name, None if len(items) > 1 else 1), ctx))
        else:
            out.skip_item(f"item {number}: not a rule: {elastic.kibana_kind(item)}", Location(name))
    return RuleFormat.KIBANA_JSON, out
