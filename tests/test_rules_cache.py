"""The parsed-rule cache and parallel parsing change speed only: the same RuleSet, in the same order, every way."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import orjson
import pytest
from stix_factory import build_bundle

from detcov.attack import AttackKB
from detcov.attack.loader import parse_bundle
from detcov.coverage.engine import _fingerprint
from detcov.rules import RuleSet, read_rules, reader
from detcov.rules import cache as rule_cache
from detcov.rules.model import Placement

DEMO_RULES = Path(__file__).resolve().parent.parent / "examples" / "demo-bank" / "rules"
OLD = time.time() - 3600  # older than the racy window: cacheable


def accounting(rs: RuleSet) -> tuple[object, ...]:
    return rs.rules, rs.files, rs.issues


@pytest.fixture()
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DETCOV_CACHE_DIR", str(tmp_path / "cache"))
    target = tmp_path / "rules"
    shutil.copytree(DEMO_RULES, target)
    for path in target.rglob("*"):
        os.utime(path, (OLD, OLD))
    return target


@pytest.fixture()
def kb_synthetic() -> AttackKB:
    return AttackKB(parse_bundle(build_bundle("v17"), source="synthetic-attack-99.9.json", sha256="1" * 64))


def cache_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "rules").glob("*.json"))


def test_the_codec_knows_every_field_of_the_models_it_stores() -> None:
    """A field added to Rule (or a model inside it) must be taught to detcov/rules/cache.py, or nothing is cached."""
    assert rule_cache.codec_matches(), "extend detcov/rules/cache.py (CODEC_FIELDS, rows) for the new model fields"


def test_cold_warm_and_parallel_reads_are_identical(rules_dir: Path, kb18: AttackKB, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    plain = read_rules(rules_dir, kb18, use_cache=False, workers=1)
    assert len(plain.rules) == 64 and not cache_files(tmp_path)
    monkeypatch.setattr(reader, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(reader, "_CHUNK", 5)  # many chunks over 2 workers: order must survive
    assert reader.worker_count(len(plain.files), 2) == 2
    cold = read_rules(rules_dir, kb18, workers=2)
    assert len(cache_files(tmp_path)) == 1
    warm = read_rules(rules_dir, kb18, workers=2)
    assert accounting(plain) == accounting(cold) == accounting(warm)
    assert all(f.sha256 for f in warm.files if f.parsed)


def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many files each read from now on parses."""
    asked: list[int] = []
    parse = reader._parse_files
    monkeypatch.setattr(reader, "_parse_files", lambda todo, *a, **k: asked.append(len(todo)) or parse(todo, *a, **k))
    return asked


@pytest.mark.parametrize("parallel", [False, True])
def test_a_warm_read_parses_nothing(rules_dir: Path, kb18: AttackKB, monkeypatch: pytest.MonkeyPatch,
                                    parallel: bool) -> None:
    """Serial and from parse workers (which send cache lines, decoded here): the next read parses nothing; after a
    change, only the changed file, and the cache saved then (its lines cut) serves the read after it whole."""
    if parallel:
        monkeypatch.setattr(reader, "PARALLEL_MIN_FILES", 1)
        monkeypatch.setattr(reader, "_CHUNK", 5)
    cold = read_rules(rules_dir, kb18, workers=2)
    asked = parses(monkeypatch)
    assert accounting(read_rules(rules_dir, kb18, workers=2)) == accounting(cold) and asked == [0]
    victim = next(f for f in cold.files if f.path.endswith(".yml") and f.rules == 1)
    Path(victim.path).write_text(Path(victim.path).read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    os.utime(victim.path, (OLD + 60, OLD + 60))
    (rules_dir / "README.md").unlink()
    changed = read_rules(rules_dir, kb18, workers=2)
    assert asked == [0, 1] and len(changed.files) == len(cold.files) - 1
    assert accounting(read_rules(rules_dir, kb18, workers=2)) == accounting(changed) and asked == [0, 1, 0]
    assert accounting(changed) == accounting(read_rules(rules_dir, kb18, use_cache=False))


def test_rules_decoded_from_many_lines_share_their_resolutions(rules_dir: Path, kb18: AttackKB,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Each cache line carries its own tables; one read still makes one object per distinct resolution, so what
    is shared after parsing is shared after a warm read too (health and the rules table lean on it)."""
    monkeypatch.setattr(reader, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(reader, "_CHUNK", 3)
    monkeypatch.setattr(rule_cache, "FILES_PER_LINE", 3)
    for _ in range(2):  # from the workers' lines, then from the cache file's
        rules = read_rules(rules_dir, kb18, workers=2).rules
        by_value: dict[object, object] = {}
        for res in (t for r in rules for t in r.techniques):
            assert by_value.setdefault(res, res) is res
        assert len(by_value) < sum(len(r.techniques) for r in rules)  # some are shared at all


def test_a_file_named_twice_is_cached_once(rules_dir: Path, kb18: AttackKB, monkeypatch: pytest.MonkeyPatch) -> None:
    one = next(p for p in sorted(rules_dir.rglob("*.yml")))
    first = read_rules([rules_dir, one], kb18)
    asked = parses(monkeypatch)
    assert accounting(read_rules([rules_dir, one], kb18)) == accounting(first) and asked == [0]


def test_placed_reads_are_the_same_cold_warm_and_after_a_change(rules_dir: Path, kb18: AttackKB) -> None:
    """Rules built placed straight from an unchanged cache equal rules placed after reading; the cache itself keeps
    every rule as its file says (a read without placement is unplaced, whatever was read before)."""
    placement = Placement(("branches",), {"sigma": ("splunk-main",), "elastic": ("elastic-soc",)})
    plain = read_rules(rules_dir, kb18, use_cache=False)
    by_hand = tuple(placement.place(r) for r in plain.rules)
    assert by_hand != plain.rules
    cold = read_rules(rules_dir, kb18, placement=placement)
    warm = read_rules(rules_dir, kb18, placement=placement)
    assert cold.rules == warm.rules == by_hand and warm.files == plain.files
    assert read_rules(rules_dir, kb18).rules == plain.rules  # the cache was not saved placed
    victim = next(f for f in plain.files if f.path.endswith(".yml") and f.rules == 1)
    Path(victim.path).write_text(Path(victim.path).read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    os.utime(victim.path, (OLD + 60, OLD + 60))
    changed = read_rules(rules_dir, kb18, placement=placement)  # decoded unplaced, then placed; the cache saved
    assert changed.rules == by_hand and read_rules(rules_dir, kb18).rules == plain.rules


def cache_lines(path: Path) -> list[object]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_the_cache_is_json_not_pickle(rules_dir: Path, kb18: AttackKB, tmp_path: Path) -> None:
    read_rules(rules_dir, kb18)
    header, index, *body, trailer = cache_lines(cache_files(tmp_path)[0])
    assert header["magic"] == rule_cache.MAGIC and trailer["lines"] == len(body) + 1  # type: ignore[index]
    rows = [row for line in body for row in line["files"]]  # type: ignore[index]
    assert len(rows) == len(index["files"]) == len([p for p in rules_dir.rglob("*") if p.is_file()])  # type: ignore[index]


def test_changed_added_and_deleted_files_are_seen(rules_dir: Path, kb18: AttackKB) -> None:
    first = read_rules(rules_dir, kb18)
    victim = next(f for f in first.files if f.path.endswith(".yml") and f.rules == 1)
    text = Path(victim.path).read_text(encoding="utf-8")
    title = next(r.title for r in first.rules if r.path == victim.path)
    Path(victim.path).write_text(text.replace(title, "Changed title"), encoding="utf-8")
    os.utime(victim.path, (OLD + 60, OLD + 60))
    gone = next(f for f in first.files if f.path.endswith(".toml"))
    Path(gone.path).unlink()
    extra = rules_dir / "new.yml"
    extra.write_text(text.replace(title, "A new rule"), encoding="utf-8")
    again = read_rules(rules_dir, kb18)
    assert accounting(again) == accounting(read_rules(rules_dir, kb18, use_cache=False))
    titles = {r.title for r in again.rules}
    assert "Changed title" in titles and "A new rule" in titles and title not in titles
    assert gone.path not in {f.path for f in again.files}


def test_a_new_attack_version_or_format_filter_is_another_cache(rules_dir: Path, kb18: AttackKB, kb_synthetic:
                                                                AttackKB, tmp_path: Path) -> None:
    read_rules(rules_dir, kb18)
    read_rules(rules_dir, kb18, "sigma")
    read_rules(rules_dir, kb_synthetic)
    assert len(cache_files(tmp_path)) == 3
    assert accounting(read_rules(rules_dir, kb_synthetic)) == accounting(
        read_rules(rules_dir, kb_synthetic, use_cache=False))


def test_a_corrupt_cache_is_rebuilt(rules_dir: Path, kb18: AttackKB, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rule_cache, "FILES_PER_LINE", 7)  # several lines: a cut one must not pass
    good = read_rules(rules_dir, kb18)
    path = cache_files(tmp_path)[0]
    key = cache_lines(path)[0]["key"]  # type: ignore[index]
    assert len(rule_cache.load(key)) == len(good.files)
    whole = path.read_bytes()
    for broken in (whole[:-100], whole[: whole.rindex(b"\n") + 1], whole.replace(b"condition", b"CONDITION", 1),
                   whole.replace(b'"files":[[', b'"files":[["x",', 1)):
        assert broken != whole
        path.write_bytes(broken)
        assert rule_cache.load(key) == {}
    assert accounting(read_rules(rules_dir, kb18)) == accounting(good)  # rebuilt
    assert len(rule_cache.load(key)) == len(good.files)


def test_files_modified_just_now_are_not_cached(rules_dir: Path, kb18: AttackKB, tmp_path: Path) -> None:
    fresh = rules_dir / "sigma" / "just-now.yml"
    shutil.copyfile(next((rules_dir / "sigma").glob("*.yml")), fresh)
    read_rules(rules_dir, kb18)
    _, index, *_ = cache_lines(cache_files(tmp_path)[0])
    stored = {row[0] for row in index["files"]}  # type: ignore[index]
    assert str(fresh) not in stored and len(stored) > 10


def test_rules_fingerprint_comes_from_the_bytes_read(rules_dir: Path, kb18: AttackKB) -> None:
    ruleset = read_rules(rules_dir, kb18)
    before = _fingerprint([rules_dir], ruleset.files)
    assert before == _fingerprint([rules_dir], read_rules(rules_dir, kb18, use_cache=False).files)
    moved = rules_dir.parent / "elsewhere"
    shutil.copytree(rules_dir, moved)
    assert _fingerprint([moved], read_rules(moved, kb18).files) == before  # names are relative to the source
    victim = next(f for f in ruleset.files if f.rules)
    Path(victim.path).write_text(Path(victim.path).read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert _fingerprint([rules_dir], read_rules(rules_dir, kb18).files) != before


def test_count_files_counts_what_the_reader_walks_up_to_a_limit(tmp_path: Path) -> None:
    for rel in ("a.yml", "sub/b.yml", "sub/deeper/c.yml", ".git/ignored.yml", "node_modules/x.yml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    one = tmp_path / "a.yml"
    assert reader.count_files([tmp_path], 100) == 3 == len(list(reader.iter_files([tmp_path])))
    assert reader.count_files([tmp_path, one, tmp_path / "missing"], 100) == 4
    assert reader.count_files([tmp_path], 2) == 2
