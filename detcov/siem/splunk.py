"""Splunk (Enterprise / Cloud / ES) over its REST API, management port 8089.

* Rules: ``GET /servicesNS/{owner}/{app}/saved/searches?output_mode=json&count=N&offset=M`` (paged by
  ``paging.total``), written back as ``savedsearches.conf``: the ``disabled`` state, the ES correlation-search
  keys (``action.correlationsearch.enabled`` / ``.label`` / ``.annotations`` with ``mitre_attack``), the notable
  severity and the search. The savedsearches reader then keeps correlation searches and accounts for the rest.
* Log flow: a oneshot search ``| tstats count latest(_time) as lastTime where index=* by index, sourcetype`` over
  the window (``POST /services/search/jobs`` with ``exec_mode=oneshot``).
* Auth: ``SPLUNK_TOKEN`` (a Splunk authentication token, sent as ``Authorization: Bearer``), else
  ``SPLUNK_USERNAME`` + ``SPLUNK_PASSWORD`` (HTTP basic). The account needs ``list_saved_searches``-level read
  access and may run ``tstats`` on the indexes to measure.

Shapes follow Splunk's REST API reference (saved/searches, search/jobs) and the splunk-sdk-python client.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from detcov.siem.credentials import Credentials, token_or_basic
from detcov.siem.flow import FlowObservation, parse_time
from detcov.siem.http import HttpClient, SiemError, TlsOptions
from detcov.siem.snapshot import FlowSnapshot, Progress, RulesSnapshot, json_items

TSTATS = "| tstats count latest(_time) as lastTime where index=* by index, sourcetype"
_KEEP = ("search", "disabled", "description", "cron_schedule", "is_scheduled", "dispatch.earliest_time",
         "dispatch.latest_time")
_KEEP_PREFIXES = ("action.correlationsearch.", "action.notable.param.", "action.escu.", "action.risk")


class SplunkConnector:
    product = "splunk"

    def __init__(self, siem: str, url: str, creds: Credentials, tls: TlsOptions, *, timeout: float = 60.0,
                 app: str = "-", owner: str = "-", page_size: int = 100,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.siem, self.app, self.owner, self.page_size = siem, app, owner, page_size
        self.creds = creds
        headers = token_or_basic(creds, "SPLUNK_TOKEN", "Bearer", "SPLUNK_USERNAME", "SPLUNK_PASSWORD", "Splunk",
                          "SPLUNK_TOKEN (Settings → Tokens) or SPLUNK_USERNAME and SPLUNK_PASSWORD in the "
                          "environment")
        self.http = HttpClient(url, "Splunk", headers, creds.values, tls, timeout, sleep=sleep,
                               auth_hint="check SPLUNK_TOKEN (or SPLUNK_USERNAME / SPLUNK_PASSWORD) and that the "
                                         "account may list saved searches and run tstats")

    def endpoint(self) -> dict[str, str]:
        return {"url": self.http.base_url, "app": self.app, "owner": self.owner}

    def credential_origins(self) -> list[str]:
        return self.creds.described

    def request_count(self) -> int:
        return self.http.requests

    def pull_rules(self, progress: Progress) -> RulesSnapshot:
        entries: list[Mapping[str, Any]] = []
        path = f"servicesNS/{self.owner}/{self.app}/saved/searches"
        total: int | None = None
        while total is None or len(entries) < total:
            doc = self.http.get(path, {"output_mode": "json", "count": self.page_size, "offset": len(entries)})
            page = json_items(doc, "entry")
            paging = doc.get("paging") if isinstance(doc, Mapping) else None
            total = int(paging.get("total", 0)) if isinstance(paging, Mapping) else len(entries) + len(page)
            entries.extend(page)
            progress("saved searches", len(entries), total)
            if not page:
                break
        if total is not None and len(entries) < total:
            raise SiemError(f"Splunk: listed {len(entries)} of {total} saved searches (the list changed while "
                            "paging)", "pull again")
        return RulesSnapshot("savedsearches.conf", savedsearches_conf(entries, self.http.base_url), len(entries),
                             "splunk")

    def pull_flow(self, window_days: int, progress: Progress) -> FlowSnapshot:
        progress("tstats", 0, None)
        doc = self.http.post_form("services/search/jobs", {
            "search": TSTATS, "earliest_time": f"-{window_days}d", "latest_time": "now", "exec_mode": "oneshot",
            "output_mode": "json", "count": 0})
        rows = json_items(doc, "results")
        warnings = tuple(f"tstats: {m.get('type')}: {m.get('text')}" for m in json_items(doc, "messages")
                         if str(m.get("type", "")).upper() in ("WARN", "ERROR", "FATAL"))
        out = [_observation(self.siem, row) for row in rows]
        progress("tstats", len(rows), len(rows))
        return FlowSnapshot(tuple(o for o in out if o is not None), warnings, f"{TSTATS} (earliest=-{window_days}d)")


def _observation(siem: str, row: Mapping[str, Any]) -> FlowObservation | None:
    index, sourcetype = row.get("index"), row.get("sourcetype")
    if not isinstance(index, str) or not isinstance(sourcetype, str):
        return None
    try:
        count = int(float(str(row.get("count", 0))))
    except ValueError:
        count = 0
    return FlowObservation(siem, index, sourcetype, None, parse_time(row.get("lastTime")), count, "splunk tstats")


def _conf_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | str):
        return "\\\n".join(str(value).splitlines()) if str(value) else None
    return None


def savedsearches_conf(entries: list[Mapping[str, Any]], source: str) -> bytes:
    """Saved searches (REST ``entry`` objects) as a ``savedsearches.conf`` the savedsearches reader reads; the app
    and owner of each stanza are kept as a comment."""
    lines = [f"# pulled by detcov from {source}/servicesNS/-/-/saved/searches", ""]
    for entry in entries:
        name = str(entry.get("name", "")).strip()
        content = entry.get("content")
        if not name or not isinstance(content, Mapping):
            continue
        acl = entry.get("acl") if isinstance(entry.get("acl"), Mapping) else {}
        lines.append(f"# app: {acl.get('app', '?')}  owner: {acl.get('owner', '?')}")  # type: ignore[union-attr]
        lines.append(f"[{name}]")
        for key in sorted(content):
            if key in _KEEP or key.startswith(_KEEP_PREFIXES):
                value = _conf_value(content[key])
                if value is not None:
                    lines.append(f"{key} = {value}")
        lines.append("")
    return "\n".join(lines).encode()
