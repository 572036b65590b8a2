"""Each connector against its local fake API (tests/siem_fakes.py) end to end: pull → snapshot files → the same
rule readers as exported files, and the flow file → load_flow. Pagination, auth failure, 429 + Retry-After,
timeouts and partial failure; secrets never land in a file or a message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import siem_fakes as fk

from detcov.attack import AttackKB
from detcov.rules import RuleStatus, read_rules
from detcov.siem.credentials import Credentials
from detcov.siem.defender import DefenderConnector
from detcov.siem.elastic import ElasticConnector
from detcov.siem.flow import load_flow
from detcov.siem.http import HttpClient, SiemError, TlsOptions, retry_after_seconds
from detcov.siem.sentinel import SentinelConnector
from detcov.siem.snapshot import load_manifest, run_pull
from detcov.siem.splunk import SplunkConnector

TLS = TlsOptions()
ANNOT = '{"mitre_attack": ["T1059.001"], "analytic_story": ["Malicious PowerShell"]}'


def _creds(**env: str) -> Credentials:
    return Credentials(env=env, keyring=lambda name: None)


def _no_secret_anywhere(folder: Path, *secrets: str) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"{secret} leaked into {path}"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# ----- Splunk -----------------------------------------------------------------------------------------------
def _splunk_entries() -> list[dict[str, object]]:
    cs = {"action.correlationsearch.enabled": "1", "action.notable.param.severity": "high",
          "cron_schedule": "*/15 * * * *", "is_scheduled": True, "dispatch.earliest_time": "-24h",
          "action.email.to": "soc@bank.example"}  # the last one is not kept
    return [
        fk.splunk_entry("Threat - Encoded PowerShell - Rule", {**cs, "disabled": False,
                        "action.correlationsearch.label": "Encoded PowerShell",
                        "action.correlationsearch.annotations": ANNOT,
                        "search": "| tstats count from datamodel=Endpoint.Processes\n| where count > 0"}),
        fk.splunk_entry("Access - LSASS Dump - Rule", {**cs, "disabled": True,
                        "action.correlationsearch.label": "LSASS dump",
                        "action.correlationsearch.annotations": '{"mitre_attack": ["T1003.001"]}',
                        "search": "index=edr sourcetype=mde:process lsass"}),
        fk.splunk_entry("Weekly license report", {"disabled": False, "search": "index=_internal | stats count"},
                        app="search"),
        fk.splunk_entry("Network - Beacon - Rule", {**cs, "disabled": "0",
                        "action.correlationsearch.label": "Beaconing",
                        "action.correlationsearch.annotations": '{"mitre_attack": ["T1071.001"]}',
                        "search": "index=fw sourcetype=pan:traffic"}),
        fk.splunk_entry("Errors by host", {"disabled": False, "search": "index=main error"}, app="search"),
    ]


EDR_LAST = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
FW_LAST = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
TSTATS = [{"index": "edr", "sourcetype": "mde:process", "count": "120034", "lastTime": f"{EDR_LAST.timestamp():.0f}"},
          {"index": "fw", "sourcetype": "pan:traffic", "count": "98", "lastTime": f"{FW_LAST.timestamp():.0f}"}]


def _splunk(api: fk.FakeApi, token: str = fk.SPLUNK_TOKEN, sleep: Sleeps | None = None, timeout: float = 5.0,
            page_size: int = 2) -> SplunkConnector:
    return SplunkConnector("splunk", api.url, _creds(SPLUNK_TOKEN=token), TLS, timeout=timeout,
                           page_size=page_size, sleep=sleep if sleep is not None else Sleeps())


def test_splunk_end_to_end(tmp_path: Path, kb18: AttackKB) -> None:
    with fk.serve(fk.splunk_api(_splunk_entries(), TSTATS)) as api:
        manifest, issues = run_pull(_splunk(api), tmp_path, TLS.describe)
    assert not issues and manifest.ok
    assert [int(s.query["offset"][0]) for s in api.seen if s.method == "GET"] == [0, 2, 4]  # 3 pages of 2
    assert all(s.headers["authorization"] == f"Bearer {fk.SPLUNK_TOKEN}" for s in api.seen)
    assert manifest.parts["rules"].count == 5 and manifest.parts["flow"].count == 2
    ruleset = read_rules(tmp_path / "rules", kb18)
    (result,) = ruleset.files
    assert (result.rules, result.items_skipped) == (3, 2)  # correlation searches; the 2 reports accounted
    status = {r.title: (r.status, r.technique_ids) for r in ruleset.rules}
    assert status == {"Encoded PowerShell": (RuleStatus.ENABLED, ("T1059.001",)),
                      "LSASS dump": (RuleStatus.DISABLED, ("T1003.001",)),
                      "Beaconing": (RuleStatus.ENABLED, ("T1071.001",))}
    encoded = next(r for r in ruleset.rules if r.title == "Encoded PowerShell")
    assert encoded.query == "| tstats count from datamodel=Endpoint.Processes\n| where count > 0"
    assert "soc@bank.example" not in (tmp_path / "rules" / "savedsearches.conf").read_text()
    observations, flow_issues = load_flow([tmp_path])  # the pull folder: its manifest names the flow file
    assert not flow_issues
    assert [(o.index, o.sourcetype, o.count, o.last_seen) for o in observations] == [
        ("edr", "mde:process", 120034, EDR_LAST), ("fw", "pan:traffic", 98, FW_LAST)]
    _no_secret_anywhere(tmp_path, fk.SPLUNK_TOKEN)
    back, _ = load_manifest(tmp_path)
    assert back is not None and back.credentials == ("SPLUNK_TOKEN from the environment",)
    assert "tstats" in (back.parts["flow"].query or "") and back.tls == "verified (system CAs)"


def test_splunk_auth_failure_is_one_clear_line_without_the_secret(tmp_path: Path) -> None:
    with fk.serve(fk.splunk_api(_splunk_entries(), TSTATS)) as api:
        manifest, issues = run_pull(_splunk(api, token="wrong-token-9999"), tmp_path, TLS.describe)
    assert [p.status for p in manifest.parts.values()] == ["failed", "failed"]
    text = str(issues[0])
    assert "401 from" in text and "call not properly authenticated" in text and "SPLUNK_TOKEN" in text
    assert "wrong-token-9999" not in text and "offset" not in text  # no secret, no query string
    _no_secret_anywhere(tmp_path, "wrong-token-9999")


def test_splunk_429_retry_after_is_honoured(tmp_path: Path) -> None:
    sleeps = Sleeps()
    with fk.serve(fk.splunk_api(_splunk_entries(), TSTATS)) as api:
        api.faults.append(fk.Fault("/servicesNS", 429, {"Retry-After": "7"}, times=2))
        manifest, issues = run_pull(_splunk(api, sleep=sleeps), tmp_path, TLS.describe)
    assert manifest.ok and not issues
    assert sleeps == [7.0, 7.0]


def test_splunk_retry_after_too_long_fails_clearly(tmp_path: Path) -> None:
    with fk.serve(fk.splunk_api(_splunk_entries(), TSTATS)) as api:
        api.faults.append(fk.Fault("/servicesNS", 429, {"Retry-After": "3600"}))
        manifest, issues = run_pull(_splunk(api), tmp_path, TLS.describe, parts=("rules",))
    assert manifest.parts["rules"].status == "failed"
    assert "asks to retry in 3600 s" in str(issues[0])


def test_splunk_timeout_then_partial_failure_keeps_the_previous_flow(tmp_path: Path) -> None:
    with fk.serve(fk.splunk_api(_splunk_entries(), TSTATS)) as api:
        first, _ = run_pull(_splunk(api), tmp_path, TLS.describe)
        before = (tmp_path / "flow" / "splunk.csv").read_bytes()
        api.faults.append(fk.Fault("/services/search/jobs", delay=1.5, times=2))  # first try and its retry
        second, issues = run_pull(_splunk(api, timeout=0.3), tmp_path, TLS.describe)
    assert second.parts["rules"].status == "ok"
    flow = second.parts["flow"]
    assert flow.status == "failed" and flow.pulled_at == first.parts["flow"].pulled_at
    assert "no answer within 0.3 s" in (flow.error or "") and "is kept" in (flow.error or "")
    assert (tmp_path / "flow" / "splunk.csv").read_bytes() == before
    assert "raise --timeout" in str(issues[0])


def test_pull_is_cached(tmp_path: Path) -> None:
    with fk.serve(fk.splunk_api(_splunk_entries(), TSTATS)) as api:
        first, _ = run_pull(_splunk(api), tmp_path, TLS.describe, max_age=timedelta(hours=1))
        sent = len(api.seen)
        again, _ = run_pull(_splunk(api), tmp_path, TLS.describe, max_age=timedelta(hours=1))
        assert again.cached and again.pulled_at == first.pulled_at and len(api.seen) == sent
        other_window, _ = run_pull(_splunk(api), tmp_path, TLS.describe, max_age=timedelta(hours=1), window_days=7)
        assert not other_window.cached
        sent = len(api.seen)
        later, _ = run_pull(_splunk(api), tmp_path, TLS.describe, max_age=timedelta(hours=1), window_days=7,
                            now=datetime.now(UTC) + timedelta(hours=2))
        assert not later.cached and len(api.seen) > sent


# ----- Elastic ----------------------------------------------------------------------------------------------
def _kibana_rules() -> list[dict[str, object]]:
    return [fk.kibana_rule(f"r{i}", f"Rule {i}", i != 2, ["T1059"], ["logs-endpoint.events.*"]) for i in range(5)]


BUCKETS = [
    {"key": ".ds-logs-endpoint.events.process-default-2026.11.20-000001", "doc_count": 500,
     "last": {"value": FW_LAST.timestamp() * 1000, "value_as_string": "2026-10-31T16:00:00.000Z"}},
    {"key": ".ds-logs-endpoint.events.process-default-2026.11.28-000002", "doc_count": 70,
     "last": {"value": EDR_LAST.timestamp() * 1000, "value_as_string": "2026-12-01T01:00:00.000Z"}},
    {"key": "winlogbeat-8.15", "doc_count": 3, "last": {"value": None}},
]


def test_elastic_end_to_end_with_failed_shards(tmp_path: Path, kb18: AttackKB) -> None:
    with fk.serve(fk.kibana_api(_kibana_rules())) as kibana, fk.serve(fk.es_api(BUCKETS, failed_shards=2)) as es:
        connector = ElasticConnector("elastic", kibana.url, es.url, _creds(ELASTIC_API_KEY=fk.ELASTIC_KEY), TLS,
                                     page_size=2, space="soc", sleep=Sleeps())
        manifest, issues = run_pull(connector, tmp_path, TLS.describe)
    assert [s.path for s in kibana.seen] == ["/s/soc/api/detection_engine/rules/_find"] * 3
    assert [s.query["page"] for s in kibana.seen] == [["1"], ["2"], ["3"]]
    assert manifest.ok and manifest.parts["rules"].count == 5
    assert [i.severity.value for i in issues] == ["warning"] and "2 of 10 shards failed" in str(issues[0])
    ruleset = read_rules(tmp_path / "rules", kb18)
    assert len(ruleset.rules) == 5
    assert [r.status for r in ruleset.rules].count(RuleStatus.DISABLED) == 1
    observations, _ = load_flow([tmp_path])
    assert [(o.index, o.count, o.last_seen) for o in observations] == [
        ("logs-endpoint.events.process-default", 570, EDR_LAST),
        ("winlogbeat-8.15", 3, None)]
    _no_secret_anywhere(tmp_path, fk.ELASTIC_KEY)


def test_elastic_without_es_url_pulls_rules_and_says_why_not_flow(tmp_path: Path) -> None:
    with fk.serve(fk.kibana_api(_kibana_rules())) as kibana:
        connector = ElasticConnector("elastic", kibana.url, None, _creds(ELASTIC_API_KEY=fk.ELASTIC_KEY), TLS)
        manifest, issues = run_pull(connector, tmp_path, TLS.describe)
    assert manifest.parts["rules"].status == "ok" and manifest.parts["flow"].status == "failed"
    assert "--es-url" in str(issues[0])


# ----- Sentinel ---------------------------------------------------------------------------------------------
def _azure(**kw: object) -> fk.FakeApi:
    rules = [fk.sentinel_rule("73e01a99-5cd7-4139-a149-9f2736ff2ab5", "Encoded PowerShell", True, ["T1059.001"],
                              "SecurityEvent | where EventID == 4688 | where CommandLine has '-enc'"),
             fk.sentinel_rule("microsoftSecurityIncidentCreationRuleExample", "MCAS incidents", True, [], "",
                              kind="MicrosoftSecurityIncidentCreation"),
             fk.sentinel_rule("myFirstFusionRule", "Advanced Multi-Stage Attack Detection", False, [], "",
                              kind="Fusion"),
             fk.sentinel_rule("c4e2f1aa-0000-4000-8000-000000000004", "Password spray", False, ["T1110.003"],
                              "SigninLogs | where ResultType == 50126", kind="NRT")]
    usage = [["SecurityEvent", "2026-12-01T00:00:00Z", 720], ["SigninLogs", "2026-11-03T00:00:00Z", 12]]
    detections = [
        {"@odata.type": "#microsoft.graph.security.detectionRule", "id": "office-encoded-powershell",
         "displayName": "Suspicious encoded PowerShell from Office", "status": "enabled",
         "queryCondition": {"queryText": "DeviceProcessEvents | where ProcessCommandLine has '-enc'"},
         "schedule": {"frequency": "PT1H"},
         "detectionAction": {"alertTemplate": {"title": "Encoded PowerShell", "severity": "high", "tactics": [
             {"tactic": "Execution", "techniques": [{"technique": "T1059.001"}]}]}}},
        {"@odata.type": "#microsoft.graph.security.detectionRule", "id": "7506", "displayName": "Ransomware rename",
         "isEnabled": False, "queryCondition": {"queryText": "DeviceFileEvents | where ActionType == 'FileRenamed'"},
         "detectionAction": {"alertTemplate": {"title": "Mass rename", "severity": "high", "category": "Impact",
                                               "mitreTechniques": ["T1486"]}}},
        {"@odata.type": "#microsoft.graph.security.detectionRule", "id": "7507", "displayName": "LSASS access",
         "isEnabled": True, "queryCondition": {"queryText": "DeviceEvents | where FileName == 'lsass.exe'"},
         "detectionAction": {"alertTemplate": {"title": "LSASS", "severity": "medium",
                                               "category": "CredentialAccess", "mitreTechniques": ["T1003.001"]}}}]
    hunting = [{"Table": "DeviceProcessEvents", "Count": 99120, "LastSeen": "2026-11-30T23:58:01.1234567Z"},
               {"Table": "EmailEvents", "Count": 4, "LastSeen": "2026-11-10T08:00:00Z"}]
    return fk.azure_api(rules, usage, detections, hunting, **kw)  # type: ignore[arg-type]


def _azure_creds(secret: str = fk.CLIENT_SECRET, api: fk.FakeApi | None = None) -> Credentials:
    env = {"AZURE_TENANT_ID": fk.TENANT, "AZURE_CLIENT_ID": "00000000-aaaa-bbbb-cccc-000000000001",
           "AZURE_CLIENT_SECRET": secret}
    if api is not None:
        env["AZURE_AUTHORITY_HOST"] = api.url
    return _creds(**env)


def _sentinel(api: fk.FakeApi, creds: Credentials) -> SentinelConnector:
    return SentinelConnector("sentinel", creds, TLS, subscription="d0cfe6b2-9ac0-4464-9919-dccaee2e48c0",
                             resource_group="myRg", workspace="myWorkspace", workspace_id=fk.WORKSPACE_ID,
                             arm_url=api.url, logs_url=api.url, sleep=Sleeps())


def test_sentinel_end_to_end(tmp_path: Path, kb18: AttackKB) -> None:
    with fk.serve(_azure()) as api:
        manifest, issues = run_pull(_sentinel(api, _azure_creds(api=api)), tmp_path, TLS.describe)
    assert not issues and manifest.ok
    arm_calls = [s for s in api.seen if s.path.endswith("/alertRules")]
    assert [s.query.get("$skipToken") for s in arm_calls] == [None, ["2"]]  # nextLink followed
    assert all(s.query["api-version"] == ["2024-09-01"] for s in arm_calls)
    assert manifest.parts["rules"].count == 4
    ruleset = read_rules(tmp_path / "rules", kb18)
    (result,) = ruleset.files
    assert (result.rules, result.items_skipped) == (2, 2)  # Fusion / incident-creation: no query, accounted
    assert {r.title: (r.status, r.technique_ids) for r in ruleset.rules} == {
        "Encoded PowerShell": (RuleStatus.ENABLED, ("T1059", "T1059.001")),
        "Password spray": (RuleStatus.DISABLED, ("T1110", "T1110.003"))}
    observations, _ = load_flow([tmp_path])
    assert [(o.table, o.count) for o in observations] == [("SecurityEvent", 720), ("SigninLogs", 12)]
    _no_secret_anywhere(tmp_path, fk.CLIENT_SECRET, fk.ACCESS_TOKEN)
    assert "AZURE_CLIENT_SECRET from the environment" in manifest.credentials


def test_sentinel_bad_secret_and_partial_query_error(tmp_path: Path) -> None:
    with fk.serve(_azure()) as api:
        manifest, issues = run_pull(_sentinel(api, _azure_creds("not-the-secret", api)), tmp_path, TLS.describe)
    assert [p.status for p in manifest.parts.values()] == ["failed", "failed"]
    assert "AADSTS7000215" in str(issues[0]) and "not-the-secret" not in str(issues[0])
    assert "AZURE_CLIENT_SECRET" in str(issues[0])

    api = _azure()
    with fk.serve(api):
        api.faults.append(fk.Fault(f"/v1/workspaces/{fk.WORKSPACE_ID}/query", 200, body={
            "tables": [{"name": "PrimaryResult", "columns": [{"name": "DataType", "type": "string"},
                                                             {"name": "LastSeen", "type": "datetime"}],
                        "rows": [["SecurityEvent", "2026-12-01T00:00:00Z"]]}],
            "error": {"code": "PartialError", "message": "There were some errors when processing your query."}}))
        manifest, issues = run_pull(_sentinel(api, _azure_creds(api=api)), tmp_path / "p", TLS.describe,
                                    parts=("flow",))
    assert manifest.parts["flow"].status == "ok" and manifest.parts["flow"].count == 1
    assert "partial answer: There were some errors" in str(issues[0])


# ----- Defender ---------------------------------------------------------------------------------------------
def test_defender_end_to_end(tmp_path: Path, kb18: AttackKB) -> None:
    with fk.serve(_azure()) as api:
        connector = DefenderConnector("defender", _creds(DETCOV_GRAPH_TOKEN=fk.ACCESS_TOKEN), TLS,
                                      graph_url=api.url, sleep=Sleeps())
        manifest, issues = run_pull(connector, tmp_path, TLS.describe)
    assert not issues and manifest.ok
    assert not any("oauth2" in s.path for s in api.seen)  # a given token: no token request
    graph_calls = [s for s in api.seen if s.path == "/beta/security/rules/detectionRules"]
    assert len(graph_calls) == 2  # @odata.nextLink followed
    ruleset = read_rules(tmp_path / "rules", kb18)
    assert {r.id: (r.status, r.technique_ids, r.tactics) for r in ruleset.rules} == {
        "office-encoded-powershell": (RuleStatus.ENABLED, ("T1059.001",), ("execution",)),
        "7506": (RuleStatus.DISABLED, ("T1486",), ("impact",)),
        "7507": (RuleStatus.ENABLED, ("T1003.001",), ("credential-access",))}
    observations, _ = load_flow([tmp_path])
    assert [(o.table, o.count) for o in observations] == [("DeviceProcessEvents", 99120), ("EmailEvents", 4)]
    assert observations[0].last_seen == datetime(2026, 11, 30, 23, 58, 1, 123456, tzinfo=UTC)
    _no_secret_anywhere(tmp_path, fk.ACCESS_TOKEN)


def test_defender_graph_error_shape(tmp_path: Path) -> None:
    with fk.serve(_azure()) as api:
        api.faults.append(fk.Fault("/beta/security", 403, body={"error": {
            "code": "Forbidden", "message": "Missing application role CustomDetection.Read.All"}}))
        connector = DefenderConnector("defender", _creds(DETCOV_GRAPH_TOKEN=fk.ACCESS_TOKEN), TLS,
                                      graph_url=api.url, sleep=Sleeps())
        manifest, issues = run_pull(connector, tmp_path, TLS.describe)
    assert manifest.parts["rules"].status == "failed" and manifest.parts["flow"].status == "ok"
    assert "403" in str(issues[0]) and "CustomDetection.Read.All" in str(issues[0])


# ----- the HTTP client --------------------------------------------------------------------------------------
def test_next_link_to_another_host_is_refused() -> None:
    with fk.serve(_azure()) as api:
        client = HttpClient(api.url, "Microsoft Graph", {"Authorization": "Bearer x"}, ("x",), TLS, 5.0)
        with pytest.raises(SiemError, match=r"refusing to follow a link to https://evil\.example"):
            client.get("https://evil.example/beta/security/rules/detectionRules?$skip=2")
        assert api.seen == []


@pytest.mark.parametrize("url", ["http://splunk.bank.local:8089", "ftp://x", "https://user:pw@splunk:8089"])
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(SiemError):
        HttpClient(url, "Splunk", tls=TLS)
    if url.startswith("http://"):
        HttpClient(url, "Splunk", tls=TlsOptions(verify=False))  # the explicit opt-out allows it


def test_retry_after_http_date() -> None:
    now = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Tue, 01 Dec 2026 09:00:30 GMT", now) == 30.0
    assert retry_after_seconds("5", now) == 5.0
    assert retry_after_seconds("soon", now) is None


def test_manifest_has_provenance_and_no_secret(tmp_path: Path) -> None:
    with fk.serve(fk.splunk_api(_splunk_entries(), TSTATS)) as api:
        run_pull(_splunk(api), tmp_path, TLS.describe)
    doc = orjson.loads((tmp_path / "manifest.json").read_bytes())
    assert doc["file_type"] == "siem-pull" and doc["endpoint"]["url"] == api.url
    assert "@" in doc["operator"] and doc["requests"] == 4
    manifest, _ = load_manifest(tmp_path)
    assert manifest is not None
    line = manifest.provenance()
    assert line.startswith(f"splunk (splunk) pulled from {api.url} [app -, owner -] by ")
    assert "5 rules at" in line and "2 flow observations at" in line


def test_credentials_environment_then_keyring_and_masked() -> None:
    store = {"SPLUNK_TOKEN": "from-keyring-1234"}
    creds = Credentials(env={"ELASTIC_API_KEY": "from-env-5678"}, keyring=store.get)
    env_secret, ring_secret = creds.get("ELASTIC_API_KEY"), creds.get("SPLUNK_TOKEN")
    assert env_secret is not None and ring_secret is not None and creds.get("AZURE_CLIENT_SECRET") is None
    assert (env_secret.origin, ring_secret.origin) == ("environment", "keyring")
    assert "from-env-5678" not in repr(env_secret) + str(env_secret) and str(ring_secret) == "***"
    assert creds.described == ["ELASTIC_API_KEY from the environment", "SPLUNK_TOKEN from the keyring"]
    assert set(creds.values) == {"from-env-5678", "from-keyring-1234"}


def test_pull_never_writes_into_a_folder_of_user_files(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "savedsearches.conf").write_text("[mine]\nsearch = x\n", encoding="utf-8")
    with fk.serve(fk.splunk_api(_splunk_entries(), TSTATS)) as api, pytest.raises(SiemError, match="not a pull"):
        run_pull(_splunk(api), tmp_path, TLS.describe)
    assert (tmp_path / "rules" / "savedsearches.conf").read_text(encoding="utf-8") == "[mine]\nsearch = x\n"


def test_find_manifests_behind_scan_inputs(tmp_path: Path) -> None:
    from detcov.siem.snapshot import find_manifests

    with fk.serve(fk.splunk_api(_splunk_entries(), TSTATS)) as api:
        run_pull(_splunk(api), tmp_path / "pulled" / "splunk", TLS.describe)
        run_pull(SplunkConnector("splunk-dr", api.url, _creds(SPLUNK_TOKEN=fk.SPLUNK_TOKEN), TLS),
                 tmp_path / "pulled" / "dr", TLS.describe, parts=("rules",))
    found, issues = find_manifests([tmp_path / "pulled" / "splunk" / "rules", tmp_path / "pulled",
                                    tmp_path / "pulled" / "splunk" / "flow" / "splunk.csv", tmp_path / "elsewhere"])
    assert not issues
    assert [m.siem for m in found] == ["splunk", "splunk-dr"]  # each pull once
