"""ATT&CK 18 writes the word "None" as the channel of log sources that have none; detcov keeps it as no channel,
so rule hints and next steps never say "linux:syslog None"."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from detcov.attack.loader import log_channel
from detcov.attack.sources import load_attack
from detcov.coverage.recommend import rule_hints
from detcov.datasources.telemetry import CollectedTelemetry
from tests.conftest import shared_path

pytestmark = pytest.mark.attack_real


@pytest.mark.parametrize(("raw", "kept"), [
    ("None", ""), ("none", ""), (" NONE ", ""), ("", ""), (None, ""), ("null", ""),
    ("EventCode=1", "EventCode=1"), (" EventCode=4688 ", "EventCode=4688"), ("None of the above", "None of the above"),
])
def test_log_channel(raw: object, kept: str) -> None:
    assert log_channel(raw) == kept


def test_real_18_1_has_none_channels_and_detcov_shows_none_of_them() -> None:
    path = shared_path("attack", "enterprise-attack-18.1.json")
    raw: Counter[str] = Counter()  # the premise, counted in MITRE's file itself
    for obj in orjson.loads(path.read_bytes())["objects"]:
        for key in ("x_mitre_log_sources", "x_mitre_log_source_references"):
            raw[key] += sum(1 for ls in obj.get(key) or () if ls.get("channel") == "None")
    assert raw["x_mitre_log_sources"] > 0 and raw["x_mitre_log_source_references"] > 0

    kb = load_attack(path)
    channels = [ls.channel for dc in kb.data_components() for ls in dc.log_sources]
    channels += [r.channel for an in kb.data.analytics for r in an.log_sources]
    channels += [r.log_source.channel for t in kb.techniques() for r in kb.detection_refs(t.id) if r.log_source]
    assert channels and not [c for c in channels if c.strip().lower() == "none"]

    # every analytic of every technique, every component collected everywhere: no hint prints "None"
    everything = frozenset(dc.stix_id for dc in kb.data_components())
    telemetry = CollectedTelemetry(components=dict.fromkeys(kb.platforms, everything))
    hints = rule_hints(kb, telemetry, [t.id for t in kb.techniques()])
    texts = [h.text for hs in hints.values() for h in hs]
    assert len(texts) > 500
    assert not [t for t in texts if " None" in t], "a rule hint prints ATT&CK's 'None' channel"
    assert any(t.endswith("linux:syslog") or "linux:syslog," in t for t in texts)  # the name is kept, bare
