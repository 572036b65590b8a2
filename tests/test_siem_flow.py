"""Log-flow evidence: every supported export is read with file:line sources, and devices' feeds are matched to
flowing / silent / never-seen / unknown with the evidence that decides."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from detcov.errors import Severity
from detcov.siem.flow import (
    FlowObservation,
    FlowState,
    evidence_time,
    flow_csv,
    load_flow,
    match_flow,
    parse_time,
    unknown_siems,
)

AS_OF = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(("text", "expected"), [
    ("1764547140", datetime(2025, 11, 30, 23, 59, tzinfo=UTC)),
    ("1764547140000", datetime(2025, 11, 30, 23, 59, tzinfo=UTC)),           # epoch ms (Elastic)
    ("2026-11-30T23:59:00Z", datetime(2026, 11, 30, 23, 59, tzinfo=UTC)),
    ("2026-11-30T23:59:00.123+08:00", datetime(2026, 11, 30, 15, 59, 0, 123000, tzinfo=UTC)),
    ("11/30/2026 23:59:00", datetime(2026, 11, 30, 23, 59, tzinfo=UTC)),      # Splunk ctime
    ("11/30/2026, 11:59:00.000 PM", datetime(2026, 11, 30, 23, 59, tzinfo=UTC)),  # Azure portal CSV
    ("", None), ("yesterday", None),
])
def test_parse_time(text: str, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_splunk_tstats_csv(tmp_path: Path) -> None:
    path = tmp_path / "splunk.csv"
    path.write_text('index,sourcetype,count,lastTime\nedr,mde:process,"1,204",1764547140\n'
                    "fw,pan:traffic,88,2026-11-01T08:00:00Z\n,,3,1764547140\nfw,pan:threat,x,1764547140\n",
                    encoding="utf-8")
    observations, issues = load_flow([path])
    assert [(o.siem, o.index, o.sourcetype, o.count, o.source) for o in observations] == [
        ("splunk", "edr", "mde:process", 1204, f"{path}:2"), ("splunk", "fw", "pan:traffic", 88, f"{path}:3")]
    assert [(i.severity, i.location.line if i.location else None) for i in issues] == [
        (Severity.WARNING, 4), (Severity.WARNING, 5)]
    assert "unreadable count 'x'" in str(issues[1])


def test_sentinel_usage_csv_portal_export(tmp_path: Path) -> None:
    path = tmp_path / "sentinel.usage.csv"  # the SIEM id is the name up to the first dot
    path.write_text("DataType,LastSeen [UTC],Records\nSecurityEvent,\"11/30/2026, 11:00:00.000 PM\",720\n"
                    "DeviceProcessEvents,\"11/02/2026, 3:00:00.000 AM\",10\n", encoding="utf-8")
    observations, issues = load_flow([path])
    assert not issues
    assert [(o.siem, o.table, o.last_seen, o.count) for o in observations] == [
        ("sentinel", "SecurityEvent", datetime(2026, 11, 30, 23, tzinfo=UTC), 720),
        ("sentinel", "DeviceProcessEvents", datetime(2026, 11, 2, 3, tzinfo=UTC), 10)]


def test_elastic_cat_indices_and_data_stream_stats(tmp_path: Path) -> None:
    cat = tmp_path / "elastic.json"
    cat.write_bytes(orjson.dumps([
        {"health": "green", "status": "open", "index": ".ds-logs-endpoint.events.process-default-2026.11.30-000002",
         "docs.count": "120"},
        {"health": "green", "status": "open", "index": "winlogbeat-8.15", "docs.count": "0"}],
        option=orjson.OPT_INDENT_2))
    stats = tmp_path / "elastic.streams.json"
    stats.write_bytes(orjson.dumps({"_shards": {"total": 2}, "data_stream_count": 1, "backing_indices": 2,
                                    "data_streams": [{"data_stream": "logs-endpoint.events.process-default",
                                                      "backing_indices": 2, "store_size_bytes": 1,
                                                      "maximum_timestamp": 1764547140000}]},
                                   option=orjson.OPT_INDENT_2))
    observations, issues = load_flow([tmp_path])  # a folder: every flow file in it
    assert not issues
    by_source = {(o.index, o.last_seen is not None, o.count) for o in observations}
    assert by_source == {("logs-endpoint.events.process-default", False, 120), ("winlogbeat-8.15", False, 0),
                         ("logs-endpoint.events.process-default", True, 1)}
    assert all(o.siem == "elastic" and ":" in o.source for o in observations)


def test_unknown_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "splunk.csv"
    path.write_text("host,bytes\na,1\n", encoding="utf-8")
    observations, issues = load_flow([path, tmp_path / "missing.csv"])
    assert observations == []
    assert [i.severity for i in issues] == [Severity.ERROR, Severity.ERROR]
    assert "not a log-flow CSV" in str(issues[0]) and "tstats" in str(issues[0])
    assert "no such log-flow file" in str(issues[1])


def test_flow_csv_round_trip(tmp_path: Path) -> None:
    obs = [FlowObservation("splunk", "edr", "mde:process", None, datetime(2026, 11, 30, 23, 59, tzinfo=UTC), 5,
                           "x"),
           FlowObservation("sentinel", None, None, "SecurityEvent", None, 0, "y")]
    path = tmp_path / "any-name.csv"
    path.write_bytes(flow_csv(obs))
    back, issues = load_flow([path])
    assert not issues
    assert [(o.siem, o.index, o.sourcetype, o.table, o.last_seen, o.count) for o in back] == [
        (o.siem, o.index, o.sourcetype, o.table, o.last_seen, o.count) for o in obs]
    assert [o.source for o in back] == [f"{path}:2", f"{path}:3"]


def test_flow_csv_neutralises_formulas_and_reads_them_back(tmp_path: Path) -> None:
    """Index / sourcetype / table names come from a SIEM's API: a spreadsheet must not run them as formulas, and
    the scan must read the original names back (the same promise as every other CSV detcov writes)."""
    hostile = [FlowObservation("splunk", "=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0", None, None, 3, "x"),
               FlowObservation("sentinel", None, None, "@SUM(1)", None, 1, "y"),
               FlowObservation("splunk", "'quoted", "-dash", None, None, 2, "z")]
    data = flow_csv(hostile)
    rows = list(csv.reader(io.StringIO(data.decode())))[1:]
    assert [r[1:4] for r in rows] == [["'=HYPERLINK(\"http://x\")", "'+cmd|' /C calc'!A0", ""],
                                      ["", "", "'@SUM(1)"], ["''quoted", "'-dash", ""]]
    assert rows[0][5] == "3"  # numbers stay numbers
    path = tmp_path / "splunk.csv"
    path.write_bytes(data)
    back, issues = load_flow([path])
    assert not issues
    assert [(o.index, o.sourcetype, o.table) for o in back] == [(o.index, o.sourcetype, o.table) for o in hostile]


def _obs(index: str | None, sourcetype: str | None, table: str | None, last: datetime | None, count: int = 10,
         siem: str = "splunk", line: int = 2) -> FlowObservation:
    return FlowObservation(siem, index, sourcetype, table, last, count, f"flow/{siem}.csv:{line}")


def test_match_states_and_evidence() -> None:
    observations = [
        _obs("edr", "mde:process", None, datetime(2026, 11, 30, 23, 59, tzinfo=UTC), line=4),
        _obs("fw", "pan:traffic", None, datetime(2026, 11, 2, 8, 0, tzinfo=UTC), line=5),
        _obs("proxy", "bluecoat", None, None, count=300, line=6),
        _obs("dns", "infoblox", None, None, count=0, line=7),
        _obs(None, None, "SecurityEvent", datetime(2026, 11, 30, 20, 0, tzinfo=UTC), siem="sentinel"),
    ]
    devices = [
        ("EDR", "splunk", [{"index": "edr", "sourcetype": "mde:*"}]),
        ("NGFW", "splunk", [{"index": "fw", "sourcetype": "pan:*"}]),
        ("Proxy", "splunk", [{"index": "proxy"}]),
        ("DNS", "splunk", [{"index": "dns"}]),
        ("WAF", "splunk", [{"index": "waf"}]),
        ("AD", "splunk", []),
        ("AD", "sentinel", [{"table": "securityevent"}]),   # case-insensitive
        ("EDR", "qradar", [{"index": "edr"}]),               # no evidence at all for that SIEM
    ]
    got = match_flow(devices, observations, AS_OF, DAY)
    states = {key: s.state for key, s in got.items()}
    assert states == {
        ("EDR", "splunk"): FlowState.FLOWING, ("NGFW", "splunk"): FlowState.SILENT,
        ("Proxy", "splunk"): FlowState.UNKNOWN, ("DNS", "splunk"): FlowState.NEVER_SEEN,
        ("WAF", "splunk"): FlowState.NEVER_SEEN, ("AD", "splunk"): FlowState.UNKNOWN,
        ("AD", "sentinel"): FlowState.FLOWING, ("EDR", "qradar"): FlowState.UNKNOWN}
    assert got["EDR", "splunk"].evidence == \
        "index=edr sourcetype=mde:* last event 2026-11-30T23:59Z (flow/splunk.csv:4)"
    assert got["NGFW", "splunk"].evidence == ("index=fw sourcetype=pan:* silent since 2026-11-02T08:00Z "
                                               "(29 days before 2026-12-01T00:00Z; flow/splunk.csv:5)")
    assert got["NGFW", "splunk"].last_seen == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert "300 events but no event time" in got["Proxy", "splunk"].evidence
    assert got["DNS", "splunk"].evidence == "index=dns never seen (0 events) (flow/splunk.csv:7)"
    assert got["WAF", "splunk"].evidence == "index=waf never seen"
    assert "no feeds declared for SIEM splunk" in got["AD", "splunk"].evidence
    assert "no log-flow evidence loaded for SIEM qradar" in got["EDR", "qradar"].evidence


def test_device_with_several_feeds_flows_when_one_does_and_names_the_silent_one() -> None:
    observations = [_obs("fw", "pan:traffic", None, datetime(2026, 11, 30, 22, 0, tzinfo=UTC), line=2),
                    _obs("fw", "pan:threat", None, datetime(2026, 11, 20, 0, 0, tzinfo=UTC), line=3)]
    feeds = [{"index": "fw", "sourcetype": "pan:threat"}, {"index": "fw", "sourcetype": "pan:traffic"}]
    status = match_flow([("NGFW", "splunk", feeds)], observations, AS_OF, DAY)["NGFW", "splunk"]
    assert status.state is FlowState.FLOWING
    assert status.evidence.startswith("index=fw sourcetype=pan:traffic last event 2026-11-30T22:00Z")
    assert "sourcetype=pan:threat silent since 2026-11-20T00:00Z" in status.evidence


def test_silent_after_is_the_threshold() -> None:
    observations = [_obs("edr", None, None, AS_OF - timedelta(hours=25))]
    devices = [("EDR", "splunk", [{"index": "edr"}])]
    assert match_flow(devices, observations, AS_OF, DAY)["EDR", "splunk"].state is FlowState.SILENT
    assert match_flow(devices, observations, AS_OF, 2 * DAY)["EDR", "splunk"].state is FlowState.FLOWING


def test_evidence_time_and_unknown_siems() -> None:
    observations = [_obs("edr", None, None, datetime(2026, 11, 3, tzinfo=UTC)),
                    _obs("fw", None, None, datetime(2026, 11, 5, tzinfo=UTC)),
                    _obs(None, None, "X", None, siem="splunk-es")]
    assert evidence_time(observations, "splunk") == datetime(2026, 11, 5, tzinfo=UTC)
    assert evidence_time(observations, "sentinel") is None
    (warning,) = unknown_siems(observations, ["splunk", "sentinel"])
    assert "'splunk-es'" in str(warning) and warning.severity is Severity.WARNING


def test_a_folder_of_pulls_reads_only_their_flow_files(tmp_path: Path) -> None:
    for siem in ("splunk", "sentinel"):
        pull = tmp_path / siem
        (pull / "rules").mkdir(parents=True)
        (pull / "flow").mkdir()
        (pull / "rules" / "sentinel-alert-rules.json").write_text('{"resources": []}', encoding="utf-8")
        (pull / "flow" / f"{siem}.csv").write_bytes(flow_csv([_obs("edr", None, None, AS_OF, siem=siem)]))
        (pull / "manifest.json").write_bytes(orjson.dumps({"parts": {"flow": {"file": f"flow/{siem}.csv"}}}))
    (tmp_path / "splunk.extra.csv").write_text("index,sourcetype,count,lastTime\nfw,pan,1,1764547140\n",
                                               encoding="utf-8")
    observations, issues = load_flow([tmp_path])
    assert not issues
    assert sorted((o.siem, o.index) for o in observations) == [("sentinel", "edr"), ("splunk", "edr"),
                                                               ("splunk", "fw")]


def test_indexed_matching_equals_a_scan_of_every_row() -> None:
    from detcov.siem.flow import feed_matches

    names = ["edr", "EDR-2", "fw", "fw_dmz", "proxy", "[x]", "a?c", "abc", "wineventlog", "win"]
    observations = [_obs(n, f"st:{i % 3}", f"T{i % 4}" if i % 2 else None, AS_OF - timedelta(hours=i), line=i)
                    for i, n in enumerate(names * 3)]
    patterns = ["edr*", "EDR*", "*dmz", "fw", "f?", "[ab]?c", "a[?]c", "win*", "*", "[[]x]", "zzz", "Proxy"]
    devices = [(f"d{i}", "splunk", [{"index": p}, {"index": p, "sourcetype": "st:1"}, {"table": "t*", "index": p}])
               for i, p in enumerate(patterns)]
    got = match_flow(devices, observations, AS_OF, DAY)
    for name, _, feeds in devices:
        matched = [o for f in feeds for o in observations if feed_matches(f, o)]
        newest = max((o.last_seen for o in matched if o.last_seen), default=None)
        assert got[name, "splunk"].last_seen == newest, name
        assert (got[name, "splunk"].state is FlowState.NEVER_SEEN) == (not matched), name
