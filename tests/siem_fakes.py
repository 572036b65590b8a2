"""Local stand-ins for the SIEM APIs the connectors call: one threaded HTTP server on 127.0.0.1 per vendor that
implements the documented subset, answering in the documented shapes. Nothing here touches the internet.

Where the shapes come from (read with the search/fetch tools, shapes learnt, nothing copied):
* Splunk: REST API reference for ``saved/searches`` (Atom-style JSON: ``entry[].name/acl/content`` + ``paging``)
  and ``search/jobs`` with ``exec_mode=oneshot`` (``preview`` / ``init_offset`` / ``messages`` / ``results``, as
  splunk-sdk clients receive it); an unauthenticated call answers 401 with ``messages[].text``.
* Kibana: Elastic Security "Find rules" API (``GET api/detection_engine/rules/_find`` → ``page`` / ``perPage`` /
  ``total`` / ``data``, rule objects with ``rule_id``, ``enabled``, ``threat``); 401 ``statusCode/error/message``.
* Elasticsearch: search with a ``terms`` aggregation and a ``max`` sub-aggregation (``_shards``, ``aggregations
  .<name>.buckets[].key/doc_count/<sub>.value``).
* Azure: azure-rest-api-specs SecurityInsights example ``alertRules/GetAllAlertRules.json`` (``value`` of
  Scheduled / MicrosoftSecurityIncidentCreation / Fusion rules, ``nextLink``); the Log Analytics query API response
  format (``tables[].name/columns/rows``, a 200 with ``error`` for a partial failure); the Entra ID v2.0 token
  endpoint (``access_token``, and ``error`` / ``error_description`` on failure).
* Microsoft Graph: "List detectionRule objects" (``value`` + ``@odata.nextLink``; both the ``isEnabled`` /
  ``mitreTechniques`` shape and the newer ``status`` / ``alertTemplate.tactics`` shape) and ``runHuntingQuery``
  (``schema`` + ``results``); errors as ``error.code/message``.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

Reply = tuple[int, Any, dict[str, str]]


@dataclass
class Fault:
    """Answer the next ``times`` requests whose path starts with ``prefix`` with ``status`` (or sleep ``delay``)."""

    prefix: str
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    times: int = 1


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class FakeApi:
    """Routes: (method, path predicate) → handler(request) → (status, JSON body, headers)."""

    def __init__(self, auth: str, unauthorized: Any) -> None:
        self.auth = auth  # the Authorization header value that is accepted
        self.unauthorized = unauthorized
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.routes: list[tuple[str, Callable[[str], bool], Callable[[Seen], Reply]]] = []
        self.open_paths: set[str] = set()  # paths served without auth (the token endpoint)
        self.url = ""

    def route(self, method: str, match: Callable[[str], bool], handler: Callable[[Seen], Reply]) -> None:
        self.routes.append((method, match, handler))

    def handle(self, req: Seen) -> Reply:
        self.seen.append(req)
        for fault in self.faults:
            if fault.times > 0 and req.path.startswith(fault.prefix):
                fault.times -= 1
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status:
                    return fault.status, fault.body if fault.body is not None else {}, fault.headers
                break
        if not any(req.path.startswith(p) for p in self.open_paths) and req.headers.get("authorization") != self.auth:
            return 401, self.unauthorized, {}
        for method, match, handler in self.routes:
            if method == req.method and match(req.path):
                return handler(req)
        return 404, {"error": {"code": "NotFound", "message": f"no route {req.method} {req.path}"}}, {}


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            req = Seen(self.command, parts.path, urllib.parse.parse_qs(parts.query),
                       {k.lower(): v for k, v in self.headers.items()}, body)
            status, doc, headers = api.handle(req)
            raw = orjson.dumps(doc)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

        do_GET = do_POST = _serve

    return Handler


@contextmanager
def serve(api: FakeApi) -> Iterator[FakeApi]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


def form(req: Seen) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(req.body.decode()).items()}


def q(req: Seen, key: str, default: str = "") -> str:
    return req.query.get(key, [default])[0]


# ----- Splunk -----------------------------------------------------------------------------------------------
SPLUNK_TOKEN = "splunk-token-s3cr3t-0001"


def splunk_entry(name: str, content: dict[str, Any], app: str = "SplunkEnterpriseSecuritySuite") -> dict[str, Any]:
    return {"name": name, "id": f"https://splunk:8089/servicesNS/nobody/{app}/saved/searches/{name}",
            "updated": "2026-11-30T10:00:00+00:00", "links": {"alternate": f"/servicesNS/nobody/{app}/..."},
            "author": "admin", "acl": {"app": app, "owner": "nobody", "sharing": "global", "can_write": True},
            "content": content}


def splunk_api(entries: list[dict[str, Any]], tstats: list[dict[str, str]]) -> FakeApi:
    api = FakeApi(f"Bearer {SPLUNK_TOKEN}", {"messages": [{"type": "WARN", "text": "call not properly "
                                                                                  "authenticated"}]})

    def saved(req: Seen) -> Reply:
        count, offset = int(q(req, "count", "30")), int(q(req, "offset", "0"))
        page = entries[offset:offset + count] if count else entries[offset:]
        return 200, {"links": {"create": "/servicesNS/-/-/saved/searches/_new"}, "origin": f"{api.url}/servicesNS/-/-"
                     "/saved/searches", "updated": "2026-12-01T09:00:00+00:00",
                     "generator": {"build": "e9494146ae5c", "version": "9.3.2"}, "entry": page,
                     "paging": {"total": len(entries), "perPage": count, "offset": offset}, "messages": []}, {}

    def oneshot(req: Seen) -> Reply:
        args = form(req)
        assert args.get("exec_mode") == "oneshot" and "tstats" in args.get("search", "")
        return 200, {"preview": False, "init_offset": 0, "messages": [],
                     "fields": [{"name": "index"}, {"name": "sourcetype"}, {"name": "count"}, {"name": "lastTime"}],
                     "results": tstats, "highlighted": {}}, {}

    api.route("GET", lambda p: p.endswith("/saved/searches"), saved)
    api.route("POST", lambda p: p == "/services/search/jobs", oneshot)
    return api


# ----- Kibana + Elasticsearch -------------------------------------------------------------------------------
ELASTIC_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="


def kibana_api(rules: list[dict[str, Any]]) -> FakeApi:
    api = FakeApi(f"ApiKey {ELASTIC_KEY}", {"statusCode": 401, "error": "Unauthorized",
                                            "message": "[security_exception]: unable to authenticate"})

    def find(req: Seen) -> Reply:
        page, per_page = int(q(req, "page", "1")), int(q(req, "per_page", "20"))
        data = rules[(page - 1) * per_page: page * per_page]
        return 200, {"page": page, "perPage": per_page, "total": len(rules), "data": data}, {}

    api.route("GET", lambda p: p.endswith("/api/detection_engine/rules/_find"), find)
    return api


def es_api(buckets: list[dict[str, Any]], failed_shards: int = 0) -> FakeApi:
    api = FakeApi(f"ApiKey {ELASTIC_KEY}", {"error": {"type": "security_exception", "reason": "missing "
                                                      "authentication credentials"}, "status": 401})

    def search(req: Seen) -> Reply:
        body = orjson.loads(req.body)
        assert body["aggs"]["by_index"]["terms"]["field"] == "_index"
        return 200, {"took": 12, "timed_out": False,
                     "_shards": {"total": 10, "successful": 10 - failed_shards, "skipped": 0,
                                 "failed": failed_shards},
                     "hits": {"max_score": None, "hits": []},
                     "aggregations": {"by_index": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0,
                                                   "buckets": buckets}}}, {}

    api.route("POST", lambda p: p.endswith("/_search"), search)
    return api


def kibana_rule(rule_id: str, name: str, enabled: bool, techniques: list[str], index: list[str]) -> dict[str, Any]:
    """A rule object as ``_find`` returns it (fields from the Find rules reference example)."""
    return {"created_at": "2026-02-02T10:05:19.613Z", "updated_at": "2026-02-02T10:05:19.830Z",
            "created_by": "elastic", "description": name, "enabled": enabled, "false_positives": [],
            "from": "now-6m", "id": f"id-{rule_id}", "immutable": True, "interval": "5m", "rule_id": rule_id,
            "output_index": ".siem-signals-default", "max_signals": 100, "risk_score": 47, "name": name,
            "references": [], "severity": "medium", "updated_by": "elastic", "tags": ["Elastic", "OS: Windows"],
            "to": "now", "type": "query", "language": "kuery", "index": index, "version": 1,
            "query": "process.name:powershell.exe", "threat": [{
                "framework": "MITRE ATT&CK",
                "tactic": {"id": "TA0002", "name": "Execution", "reference": "https://attack.mitre.org/tactics/TA0002/"},
                "technique": [{"id": t, "name": t, "reference": f"https://attack.mitre.org/techniques/{t}/"}
                              for t in techniques]}]}


# ----- Azure: Entra ID, Resource Manager, Log Analytics, Graph ----------------------------------------------
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_SECRET = "client-s3cr3t-Azure-0002"
ACCESS_TOKEN = "eyJ0eXAiOiJKV1Qi.fake-access-token.0003"
WORKSPACE_ID = "63613592-b6f7-4c3d-a390-22ba13102111"


def azure_api(alert_rules: list[dict[str, Any]], usage_rows: list[list[Any]], detections: list[dict[str, Any]],
              hunting: list[dict[str, Any]], page_size: int = 2) -> FakeApi:
    api = FakeApi(f"Bearer {ACCESS_TOKEN}", {"error": {"code": "AuthenticationFailed",
                                                       "message": "Authentication failed."}})
    api.open_paths.add(f"/{TENANT}/oauth2/v2.0/token")

    def token(req: Seen) -> Reply:
        args = form(req)
        if args.get("client_secret") != CLIENT_SECRET:
            return 401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret "
                         "provided. Ensure the secret being sent in the request is the client secret value.",
                         "error_codes": [7000215]}, {}
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                     "access_token": ACCESS_TOKEN}, {}

    def paged(items: list[dict[str, Any]], req: Seen, next_key: str, skip_key: str) -> Reply:
        skip = int(q(req, skip_key, "0"))
        doc: dict[str, Any] = {"value": items[skip:skip + page_size]}
        if skip + page_size < len(items):
            query = {k: v[0] for k, v in req.query.items()} | {skip_key: str(skip + page_size)}
            doc[next_key] = f"{api.url}{req.path}?{urllib.parse.urlencode(query)}"
        return 200, doc, {}

    def usage(req: Seen) -> Reply:
        assert "Usage" in orjson.loads(req.body)["query"]
        return 200, {"tables": [{"name": "PrimaryResult", "columns": [
            {"name": "DataType", "type": "string"}, {"name": "LastSeen", "type": "datetime"},
            {"name": "Records", "type": "long"}], "rows": usage_rows}]}, {}

    def hunt(req: Seen) -> Reply:
        assert "Timestamp" in orjson.loads(req.body)["Query"]
        return 200, {"schema": [{"name": "Table", "type": "String"}, {"name": "Count", "type": "Int64"},
                                {"name": "LastSeen", "type": "DateTime"}], "results": hunting}, {}

    api.route("POST", lambda p: p.endswith("/oauth2/v2.0/token"), token)
    api.route("GET", lambda p: p.endswith("/providers/Microsoft.SecurityInsights/alertRules"),
              lambda r: paged(alert_rules, r, "nextLink", "$skipToken"))
    api.route("POST", lambda p: p == f"/v1/workspaces/{WORKSPACE_ID}/query", usage)
    api.route("GET", lambda p: p == "/beta/security/rules/detectionRules",
              lambda r: paged(detections, r, "@odata.nextLink", "$skip"))
    api.route("POST", lambda p: p == "/v1.0/security/runHuntingQuery", hunt)
    return api


def sentinel_rule(name: str, display: str, enabled: bool, techniques: list[str], query: str,
                  kind: str = "Scheduled") -> dict[str, Any]:
    """An alert rule as the ARM list returns it (GetAllAlertRules.json shape)."""
    base = "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/myRg/providers/Microsoft." \
           "OperationalInsights/workspaces/myWorkspace/providers/Microsoft.SecurityInsights/alertRules"
    props: dict[str, Any] = {"displayName": display, "description": display, "severity": "High",
                             "enabled": enabled, "lastModifiedUtc": "2026-03-01T13:17:30Z"}
    if kind in ("Scheduled", "NRT"):
        props |= {"tactics": ["Execution"], "techniques": [t.split(".")[0] for t in techniques],
                  "subTechniques": [t for t in techniques if "." in t], "query": query, "queryFrequency": "PT1H",
                  "queryPeriod": "P2DT1H30M", "triggerOperator": "GreaterThan", "triggerThreshold": 0,
                  "suppressionDuration": "PT1H", "suppressionEnabled": False}
    else:
        props |= {"alertRuleTemplateName": "f71aba3d-28fb-450b-b192-4e76a83015c8", "tactics": ["Persistence"]}
    return {"id": f"{base}/{name}", "name": name, "type": "Microsoft.SecurityInsights/alertRules", "kind": kind,
            "etag": "\"0300bf09-0000-0000-0000-5c37296e0000\"", "properties": props}
