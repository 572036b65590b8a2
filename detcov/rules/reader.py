"""Read rules from files and folders in any supported format; account for every file.

:func:`read_rules` walks the paths, recognises each file's format (extension first, then content), hands it to
the format's reader and records a :class:`~detcov.rules.model.FileResult`: parsed into N rules, or skipped
with a
reason (not a rule, malformed YAML at line L, binary, too large, unsupported format). Nothing raises for bad
input; the totals always add up.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from detcov.attack import AttackKB
from detcov.errors import DetcovError, Issue, Location, Severity
from detcov.rules import defender, dettect, elastic, sentinel, sigma, splunk, tabular
from detcov.rules.common import MAX_FILE_BYTES, Parsed, ReadContext, SkipFile, decode, yaml_documents
from detcov.rules.model import FORMAT_CHOICES, FileResult, Rule, RuleFormat, RuleSet
from detcov.rules.sigma_correlation import link_correlations

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
               ) -> Iterator[tuple[Path, bool]]:
    """(file, exists) for every file under the paths, sorted within each folder (tool folders like .git pruned);
    folders that cannot be listed are appended to ``unreadable``."""
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            yield path, path.is_file()
            continue
        found: list[str] = []
        for folder, dirs, names in os.walk(path, onerror=unreadable.append if unreadable is not None else None):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
            found.extend(f"{folder}{os.sep}{n}" for n in names)
        for name in sorted(found):
            yield Path(name), True


def read_rules(
    paths: Iterable[str | Path] | str | Path,
    kb: AttackKB,
    fmt: str = "auto",
    *,
    csv_columns: Mapping[str, str] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> RuleSet:
    """Every rule under ``paths`` (files or folders), normalised against ``kb``; ``fmt`` restricts the format
    family (``auto``, ``sigma``, ``splunk``, ``elastic``, ``sentinel``, ``defender``, ``csv``,
    ``dettect``)."""
    if fmt not in FORMAT_CHOICES:
        raise DetcovError(f"unknown rule format {fmt!r}", hint=f"use one of {', '.join(FORMAT_CHOICES)}")
    if isinstance(paths, str | Path):
        paths = [paths]
    ctx = ReadContext(kb)
    rules: list[Rule] = []
    files: list[FileResult] = []
    issues: list[Issue] = []
    unreadable: list[OSError] = []
    for path, exists in iter_files(paths, unreadable):
        if not exists:
            issues.append(Issue("no such file or folder", Location(str(path)), "check the path"))
            continue
        result, found = read_file(path, ctx, fmt, csv_columns, max_bytes)
        files.append(result)
        rules.extend(found)
    for exc in unreadable:
        issues.append(Issue(f"cannot read this folder ({exc.strerror or exc}): its rules are not counted",
                            Location(str(exc.filename)), "give the user running detcov read access to it"))
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


def read_file(
    path: Path,
    ctx: ReadContext,
    fmt: str = "auto",
    csv_columns: Mapping[str, str] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> tuple[FileResult, list[Rule]]:
    """One file → its accounting and its rules."""
    name = str(path)
    try:
        kind, parsed = _read(path, ctx, fmt, csv_columns, max_bytes)
    except SkipFile as skip:
        return FileResult(name, None, skipped=skip.reason), []
    except OSError as exc:
        return FileResult(name, None, skipped=f"unreadable: {exc.strerror or exc}"), []
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError, IndexError, csv.Error) as exc:
        return FileResult(name, None, skipped=f"unreadable: {type(exc).__name__}: {exc}"[:300]), []
    return FileResult(
        name, kind, len(parsed.rules), None, parsed.items_skipped, tuple(parsed.issues)
    ), parsed.rules


def _allowed(kind: RuleFormat, fmt: str) -> None:
    if fmt != "auto" and kind.family != fmt:
        raise SkipFile(f"not a {fmt} rule: looks like {kind.value} (--format {fmt} was asked)")


def _read(
    path: Path, ctx: ReadContext, fmt: str, csv_columns: Mapping[str, str] | None, max_bytes: int
) -> tuple[RuleFormat, Parsed]:
    suffix = path.suffix.lower()
    if suffix in DOC_SUFFIXES or path.stem.lower() in DOC_NAMES:
        raise SkipFile(f"not a rule: documentation or media file ({path.name})")
    size = path.stat().st_size
    if size == 0:
        raise SkipFile("empty file")
    if size > max_bytes:
        raise SkipFile(
            f"too large: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit for one file"
        )
    source = decode(path.read_bytes())
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


def _read_yaml(name: str, source: str, ctx: ReadContext, fmt: str) -> tuple[RuleFormat, Parsed]:
    docs = yaml_documents(source)
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
