"""Microsoft Defender XDR: custom detection rules and advanced-hunting table flow over Microsoft Graph.

* Rules: ``GET {graph}/beta/security/rules/detectionRules`` (``value`` + ``@odata.nextLink``), written as YAML
  documents in the Graph ``detectionRule`` shape, which the Defender reader reads (``isEnabled`` or ``status``,
  ``detectionAction.alertTemplate`` techniques, ``queryCondition.queryText``).
* Log flow: ``POST {graph}/v1.0/security/runHuntingQuery`` with a query that counts events and the last
  ``Timestamp`` per advanced-hunting table over the window (hunting keeps 30 days).
* Auth: Entra ID client credentials (``detcov.siem.azure``), or a token in ``DETCOV_GRAPH_TOKEN``. Needs
  ``CustomDetection.Read.All`` and ``ThreatHunting.Read.All``.

Shapes follow the Microsoft Graph reference (List detectionRule objects, runHuntingQuery: ``schema`` +
``results``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import yaml

from detcov.siem.credentials import Credentials
from detcov.siem.flow import table_observation
from detcov.siem.http import TlsOptions
from detcov.siem.sentinel import AzureApi
from detcov.siem.snapshot import FlowSnapshot, Progress, RulesSnapshot, json_items

GRAPH = "https://graph.microsoft.com"
HUNTING = ("union withsource=Table Device*, Email*, Identity*, Cloud*, Alert*, Url*, Behavior* "
           "| where Timestamp > ago({days}d) | summarize Count = count(), LastSeen = max(Timestamp) by Table")
MAX_HUNTING_DAYS = 30


class DefenderConnector:
    product = "defender-xdr"

    def __init__(self, siem: str, creds: Credentials, tls: TlsOptions, *, graph_url: str = GRAPH,
                 authority: str | None = None, timeout: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.siem, self.creds = siem, creds
        self.graph = AzureApi("Microsoft Graph", graph_url, GRAPH, "DETCOV_GRAPH_TOKEN", creds, tls, timeout,
                              authority, sleep)

    def endpoint(self) -> dict[str, str]:
        return {"url": self.graph.url, "tenant": self.creds.plain("AZURE_TENANT_ID") or "?"}

    def credential_origins(self) -> list[str]:
        return self.creds.described

    def request_count(self) -> int:
        return self.graph.requests

    def pull_rules(self, progress: Progress) -> RulesSnapshot:
        rules = self.graph.pages("beta/security/rules/detectionRules", None, "@odata.nextLink", progress,
                                 "custom detections")
        docs = [{k: v for k, v in r.items() if not k.startswith("@odata.")} for r in rules]
        content = yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True).encode() if docs else b""
        return RulesSnapshot("defender-detections.yaml", content, len(rules), "defender")

    def pull_flow(self, window_days: int, progress: Progress) -> FlowSnapshot:
        days = min(window_days, MAX_HUNTING_DAYS)
        query = HUNTING.format(days=days)
        progress("hunting query", 0, None)
        doc = self.graph.client.post_json("v1.0/security/runHuntingQuery", {"Query": query})
        rows = json_items(doc, "results")
        out = [table_observation(self.siem, row, "Table", "Count", 0, "defender advanced hunting") for row in rows]
        progress("hunting query", len(rows), len(rows))
        warnings = (f"the window was cut to {MAX_HUNTING_DAYS} days (advanced hunting keeps 30)",) \
            if window_days > MAX_HUNTING_DAYS else ()
        return FlowSnapshot(tuple(o for o in out if o is not None), warnings, query)
