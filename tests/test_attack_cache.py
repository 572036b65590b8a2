"""The normalised cache: identical data, rebuilt when corrupt, truncated or stale."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from stix_factory import build_bundle

from detcov.attack import cache
from detcov.attack.loader import AttackData
from detcov.attack.sources import load_attack_data

EAGER = ("tactics", "techniques", "data_components", "strategies", "groups", "software", "campaigns",
         "mitigations", "attributions")
LAZY = ("analytics", "uses", "mitigates")


def assert_same(a: AttackData, b: AttackData) -> None:
    assert a.info == b.info
    for name in (*EAGER, *LAZY):
        assert getattr(a, name) == getattr(b, name), name
    assert dict(a.detections) == dict(b.detections)
    assert dict(a.revoked_by) == dict(b.revoked_by)


@pytest.fixture
def bundle_file(tmp_path: Path) -> Path:
    path = tmp_path / "enterprise-attack-98.7.json"
    path.write_bytes(orjson.dumps(build_bundle("v18")))
    return path


def test_second_load_comes_from_cache_and_is_identical(bundle_file: Path) -> None:
    cold, s1 = load_attack_data(bundle_file)
    warm, s2 = load_attack_data(bundle_file)
    assert (s1.from_cache, s2.from_cache) == (False, True)
    assert_same(cold, warm)


@pytest.mark.attack_real
def test_real_bundle_round_trip(bundle18: Path) -> None:
    cold, _ = load_attack_data(bundle18, use_cache=False)
    cache.write_cache(cold)
    warm = cache.read_cache(cold.info.sha256)
    assert warm is not None
    assert_same(cold, warm)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty", "other-version"])
def test_damaged_cache_is_detected_and_rebuilt(bundle_file: Path, damage: str) -> None:
    first, _ = load_attack_data(bundle_file)
    path = cache.cache_path(first.info.sha256)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        path.write_bytes(raw[:-10] + bytes([raw[-10] ^ 0x55]) + raw[-9:])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        head, _, payload = raw.partition(b"\n")
        header = orjson.loads(head)
        header["detcov"] = "0.0.0-other"
        path.write_bytes(orjson.dumps(header) + b"\n" + payload)
    assert cache.read_cache(first.info.sha256) is None
    again, stats = load_attack_data(bundle_file)
    assert not stats.from_cache
    assert_same(first, again)
    assert cache.read_cache(first.info.sha256) is not None  # rebuilt


def test_changed_bundle_is_not_served_from_stale_cache(bundle_file: Path) -> None:
    first, _ = load_attack_data(bundle_file)
    bundle = build_bundle("v17")
    bundle_file.write_bytes(orjson.dumps(bundle))
    second, stats = load_attack_data(bundle_file)
    assert not stats.from_cache
    assert second.info.sha256 != first.info.sha256
    assert second.info.detection_model != first.info.detection_model


def test_cache_has_no_pickle(bundle_file: Path) -> None:
    data, _ = load_attack_data(bundle_file)
    head = cache.cache_path(data.info.sha256).read_bytes().split(b"\n", 1)[0]
    assert orjson.loads(head)["magic"] == cache.MAGIC
