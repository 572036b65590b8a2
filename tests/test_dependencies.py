"""Every dependency pyproject.toml declares earns its place: the project's code imports it, or it is a tool named
here with what it is for. And `.ci/constraints.txt` pins nothing the declared dependencies do not pull in."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CODE = ("detcov", "tests", "benchmarks", "notebooks")

# Declared but never imported: what each one is for.
TOOLS = {
    "pytest-xdist": "pytest -n 2 (the suite's parallel runner)",
    "syrupy": "pytest plugin: the `snapshot` fixture",
    "mypy": "type checker (strict)",
    "ruff": "linter",
    "types-pyyaml": "mypy stubs for PyYAML",
    "pandas-stubs": "mypy stubs for pandas",
    "ipykernel": "the Jupyter kernel nbclient runs the notebooks in",
}


def _project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        project: dict[str, Any] = tomllib.load(fh)["project"]
    return project


def _declared() -> dict[str, str]:
    """Canonical name → the extra that declares it ("" = the base dependencies); detcov's own extras left out."""
    project = _project()
    groups: dict[str, list[str]] = {"": list(project["dependencies"])}
    groups.update(project["optional-dependencies"])
    out: dict[str, str] = {}
    for extra, reqs in groups.items():
        for text in reqs:
            name = canonicalize_name(Requirement(text).name)
            if name != "detcov":
                out.setdefault(name, extra)
    return out


def _imported_top_levels() -> set[str]:
    names: set[str] = set()
    for folder in CODE:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.split(".")[0])
    return names


def _installed(name: str) -> bool:
    try:
        md.distribution(name)
    except md.PackageNotFoundError:
        return False
    return True


def test_every_declared_dependency_is_imported_or_a_named_tool() -> None:
    declared = _declared()
    by_dist: dict[str, set[str]] = {}
    for top, dists in md.packages_distributions().items():
        for dist in dists:
            by_dist.setdefault(canonicalize_name(dist), set()).add(top)
    imported = _imported_top_levels()
    # a package not installed here (e.g. the `siem` extra's keyring) is looked for under its own name
    unused = sorted(n for n in declared
                    if n not in TOOLS and not by_dist.get(n, {n.replace("-", "_")}) & imported)
    assert unused == [], f"declared in pyproject.toml but never imported (remove, or name the tool in TOOLS): {unused}"
    assert not set(TOOLS) - set(declared), "TOOLS names a package pyproject.toml no longer declares"


def _requirements_closure(roots: Iterable[Requirement]) -> set[str]:
    """The installed distributions the roots pull in (markers evaluated with the extras asked for)."""
    seen: set[tuple[str, str]] = set()
    todo = [(canonicalize_name(r.name), extra) for r in roots for extra in ("", *r.extras)]
    while todo:
        key, extra = todo.pop()
        if (key, extra) in seen or not _installed(key):
            continue
        seen.add((key, extra))
        for req in map(Requirement, md.requires(key) or ()):
            if req.marker is None or req.marker.evaluate({"extra": extra}):  # platform markers for this machine
                todo.extend((canonicalize_name(req.name), e) for e in ("", *req.extras))
    return {key for key, _ in seen}


def _pinned() -> Iterator[str]:
    for line in (ROOT / ".ci" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==", line)
        if match:
            yield canonicalize_name(match.group(1))


def test_constraints_pin_only_what_the_declared_dependencies_pull_in() -> None:
    """Read from pyproject.toml itself (an editable install's metadata keeps what was declared when it was made)."""
    project = _project()
    texts = list(project["dependencies"])
    for reqs in project["optional-dependencies"].values():
        texts.extend(reqs)
    roots = [r for r in map(Requirement, texts) if canonicalize_name(r.name) != "detcov"]
    dev = sorted(n for n, extra in _declared().items() if extra in ("", "dev") and not _installed(n))
    if dev:
        pytest.skip(f"the dev extra is not installed here ({', '.join(dev)} missing): pip install -e '.[dev]'")
    stray = sorted(set(_pinned()) - _requirements_closure(roots))
    assert stray == [], f".ci/constraints.txt pins packages nothing declared pulls in: {stray}"
