"""Rule files' YAML is built from the parser's events (detcov.rules.common._Events), not from PyYAML's node graph:
every value, type and error must be the one PyYAML's safe loader gives, on tricky snippets and on every YAML file
of the real corpora."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from detcov.rules import common
from tests.conftest import shared_path


def _outcome(load: Any, text: str) -> tuple[str, ...]:
    try:
        return ("ok", repr([d for d in load(text) if d is not None]))
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        return ("error", type(exc).__name__, str(exc))


def _pyyaml(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=yaml.CSafeLoader))


def _detcov(text: str) -> list[Any]:
    return common._load_all(text, frozenset())


SNIPPETS = {
    "plain scalars of every implicit type": "a: yes\nb: No\nc: ~\nd: null\ne: 12\nf: 0x1F\ng: 0o17\nh: 1_000\n"
                                            "i: 1:30\nj: .inf\nk: -.NaN\nl: 3.5e3\nm: 2024-01-02\n"
                                            "n: 2024-01-02 10:20:30Z\no: true\np: ''\nq:\nr: =x\ns: '!'\n",
    "quoted look-alikes stay strings": "a: 'yes'\nb: \"12\"\nc: '~'\nd: \"2024-01-02\"\ne: 'null'\n",
    "non-specific and explicit tags": "a: ! 12\nb: !!str 12\nc: !!int '7'\nd: !!float 1\ne: !!binary aGk=\n",
    "explicit tag on a collection": "a: !!set {x, y}\nb: !!omap [{k: 1}]\n",
    "unknown tag": "a: !custom 1\n",
    "the value key '=' alone": "a: =\n",
    "anchors and aliases": "base: &b {x: 1}\nuse: *b\nlist: &l [1, 2]\nagain: *l\nscalar: &s v\nref: *s\n",
    "merge keys": "base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\n",
    "complex keys": "? [a, b]\n: c\n",
    "mapping as key": "? {a: 1}\n: c\n",
    "duplicate keys: the last wins": "a: 1\na: 2\n",
    "several documents, empty ones": "---\na: 1\n---\n---\n...\n---\n- x\n- 2\n",
    "a bare scalar document": "just text\n",
    "block scalars and flow collections": "a: |\n  line 1\n  line 2\nb: >\n  folded\n  text\nc: {x: [1, {y: z}]}\n",
    "nested lists of mappings": "a:\n  - b: 1\n    c: [x, y]\n  - - deep\n    - 3\n",
    "a syntax error": "a: [1, 2\nb: c\n",
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "undefined alias": "a: *nowhere\n",
    "a tab where indentation is": "a:\n\tb: 1\n",
}


@pytest.mark.parametrize("text", SNIPPETS.values(), ids=SNIPPETS.keys())
def test_events_give_what_pyyaml_gives(text: str) -> None:
    assert _outcome(_detcov, text) == _outcome(_pyyaml, text)


def test_shallow_keys_build_only_scalars_and_lists_of_scalars() -> None:
    text = ("title: t\ndetection:\n  sel: {Image: a.exe}\n  keywords: [a, 2, 'yes']\n  mixed: [a, {b: c}]\n"
            "  when: 2024-01-02\n  condition: sel or keywords\nother: {deep: {x: 1}}\n")
    (doc,) = common._Events(text, frozenset({"detection"})).documents()
    assert doc == {"title": "t", "detection": {"sel": None, "keywords": ["a", 2, "yes"], "mixed": None,
                                               "when": yaml.safe_load("2024-01-02"), "condition": "sel or keywords"},
                   "other": {"deep": {"x": 1}}}


@pytest.mark.parametrize("text", [SNIPPETS["anchors and aliases"], SNIPPETS["merge keys"], SNIPPETS["complex keys"],
                                  SNIPPETS["explicit tag on a collection"]])
def test_what_events_cannot_build_goes_to_the_node_graph(text: str) -> None:
    with pytest.raises(common._UseNodes):
        common._Events(text, frozenset()).documents()


def test_every_corpus_yaml_file_reads_as_pyyaml_reads_it() -> None:
    """All five formats' YAML files (Sigma, Splunk ESCU, Sentinel, Defender, DeTT&CT…): same documents and types
    as PyYAML's safe loader, and almost all of them through the fast path."""
    root = shared_path("rules-corpora")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".yml", ".yaml"))
    fast = 0
    for path in files:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        assert _outcome(_detcov, text) == _outcome(_pyyaml, text), path
        try:
            common._Events(text, frozenset()).documents()
            fast += 1
        except common._UseNodes:
            pass
        except yaml.YAMLError:
            fast += 1
    assert len(files) > 4000
    assert fast > 0.99 * len(files), f"only {fast} of {len(files)} files took the event path"


def test_yaml_documents_reports_where_the_file_is_malformed() -> None:
    with pytest.raises(common.SkipFile, match=r"^malformed YAML at line 2, column 2: did not find expected ','"):
        common.yaml_documents("a: [1, 2\nb: c\n", shallow=frozenset({"detection"}))
