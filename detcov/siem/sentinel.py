"""Microsoft Sentinel: analytics rules over Azure Resource Manager, last ingestion per table from Log Analytics.

* Rules: ``GET {arm}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/
  {ws}/providers/Microsoft.SecurityInsights/alertRules?api-version=2024-09-01`` (``value`` + ``nextLink``),
  written as an ARM template (``resources[]`` of ``.../alertRules`` with ``kind`` and ``properties``), the shape
  the Sentinel ARM reader reads. Fusion / ML / Microsoft-incident rules carry no query: the reader accounts for
  them as not analytic rules.
* Log flow: ``POST {logs}/v1/workspaces/{workspace id}/query`` with a ``Usage`` query (last ingestion and usage
  records per ``DataType``, i.e. table). A partial query error (HTTP 200 with ``error``) is reported.
* Auth: Entra ID client credentials (``detcov.siem.azure``), or tokens in ``DETCOV_ARM_TOKEN`` /
  ``DETCOV_LOGS_TOKEN``. Needs Microsoft Sentinel Reader and Log Analytics Reader.

Shapes follow the azure-rest-api-specs examples (SecurityInsights ``alertRules/GetAllAlertRules.json``) and the
Log Analytics query API's documented response format (``tables[].columns`` / ``rows``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from detcov.siem.azure import bearer_token
from detcov.siem.credentials import Credentials
from detcov.siem.flow import table_observation
from detcov.siem.http import HttpClient, SiemError, TlsOptions
from detcov.siem.snapshot import FlowSnapshot, Progress, RulesSnapshot, json_items

API_VERSION = "2024-09-01"
ARM = "https://management.azure.com"
LOGS = "https://api.loganalytics.io"
USAGE = ("Usage | where TimeGenerated > ago({days}d) "
         "| summarize LastSeen = max(TimeGenerated), Records = count() by DataType")


class AzureApi:
    """An Azure REST API with a bearer token acquired on first use."""

    def __init__(self, name: str, url: str, resource: str, token_var: str, creds: Credentials, tls: TlsOptions,
                 timeout: float, authority: str | None, sleep: Callable[[float], None]) -> None:
        self.name, self.url, self.resource, self.token_var = name, url.rstrip("/"), resource, token_var
        self.creds, self.tls, self.timeout, self.authority, self.sleep = creds, tls, timeout, authority, sleep
        self._client: HttpClient | None = None
        self.token_requests = 0

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            token, used = bearer_token(self.creds, self.token_var, self.resource, self.tls,
                                       authority=self.authority, timeout=self.timeout, sleep=self.sleep)
            self.token_requests += used
            self._client = HttpClient(self.url, self.name, {"Authorization": f"Bearer {token}"}, self.creds.values,
                                      self.tls, self.timeout, sleep=self.sleep,
                                      auth_hint=f"check the app's role on the workspace, or {self.token_var}")
        return self._client

    @property
    def requests(self) -> int:
        return self.token_requests + (self._client.requests if self._client else 0)

    def pages(self, path: str, params: Mapping[str, Any] | None, next_key: str, progress: Progress,
              what: str) -> list[Mapping[str, Any]]:
        """Every item of a ``value`` + next-link collection (Azure RM ``nextLink``, Graph ``@odata.nextLink``)."""
        items: list[Mapping[str, Any]] = []
        doc = self.client.get(path, params)
        while True:
            items.extend(json_items(doc, "value"))
            progress(what, len(items), None)
            link = doc.get(next_key) if isinstance(doc, Mapping) else None
            if not isinstance(link, str) or not link:
                return items
            doc = self.client.get(link)


class SentinelConnector:
    product = "sentinel"

    def __init__(self, siem: str, creds: Credentials, tls: TlsOptions, *, subscription: str, resource_group: str,
                 workspace: str, workspace_id: str | None, arm_url: str = ARM, logs_url: str = LOGS,
                 authority: str | None = None, timeout: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.siem, self.creds = siem, creds
        self.subscription, self.resource_group, self.workspace = subscription, resource_group, workspace
        self.workspace_id = workspace_id
        self.arm = AzureApi("Azure Resource Manager", arm_url, ARM, "DETCOV_ARM_TOKEN", creds, tls, timeout,
                            authority, sleep)
        self.logs = AzureApi("Log Analytics", logs_url, LOGS, "DETCOV_LOGS_TOKEN", creds, tls, timeout, authority,
                             sleep)

    def endpoint(self) -> dict[str, str]:
        return {"url": self.arm.url, "logs_url": self.logs.url, "subscription": self.subscription,
                "resource_group": self.resource_group, "workspace": self.workspace,
                "workspace_id": self.workspace_id or "?"}

    def credential_origins(self) -> list[str]:
        return self.creds.described

    def request_count(self) -> int:
        return self.arm.requests + self.logs.requests

    def pull_rules(self, progress: Progress) -> RulesSnapshot:
        path = (f"subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
                f"Microsoft.OperationalInsights/workspaces/{self.workspace}/providers/"
                "Microsoft.SecurityInsights/alertRules")
        rules = self.arm.pages(path, {"api-version": API_VERSION}, "nextLink", progress, "analytics rules")
        return RulesSnapshot("sentinel-alert-rules.json", arm_template(rules, self.workspace), len(rules),
                             "sentinel")

    def pull_flow(self, window_days: int, progress: Progress) -> FlowSnapshot:
        if not self.workspace_id:
            raise SiemError("Sentinel: no workspace id for the log flow",
                            "give --workspace-id (the workspace's GUID, Log Analytics → Overview), or --rules-only")
        progress("Usage query", 0, None)
        query = USAGE.format(days=window_days)
        doc = self.logs.client.post_json(f"v1/workspaces/{self.workspace_id}/query",
                                         {"query": query, "timespan": f"P{window_days}D"})
        rows = table_rows(doc)
        out = [table_observation(self.siem, row, "DataType", "Records", 1, "log analytics Usage") for row in rows]
        error = doc.get("error") if isinstance(doc, Mapping) else None
        warnings = (f"partial answer: {error.get('message') or error.get('code')}",) \
            if isinstance(error, Mapping) else ()
        progress("Usage query", len(rows), len(rows))
        return FlowSnapshot(tuple(o for o in out if o is not None), warnings, query)


def table_rows(doc: Any) -> list[dict[str, Any]]:
    """The first table of a Log Analytics answer as dicts (column name → value)."""
    tables = json_items(doc, "tables")
    if not tables:
        return []
    names = [str(c.get("name")) for c in json_items(tables[0], "columns")]
    rows = tables[0].get("rows")
    return [dict(zip(names, row, strict=False)) for row in rows if isinstance(row, list)] \
        if isinstance(rows, list) else []



def arm_template(rules: list[Mapping[str, Any]], workspace: str) -> bytes:
    """Alert rules (ARM resources as the API lists them) as a deployable-shaped ARM template."""
    resources = [{
        "type": "Microsoft.OperationalInsights/workspaces/providers/alertRules",
        "name": f"{workspace}/Microsoft.SecurityInsights/{rule.get('name', '')}",
        "kind": rule.get("kind"),
        "apiVersion": API_VERSION,
        "properties": rule.get("properties") or {},
    } for rule in rules]
    template = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "resources": resources}
    return orjson.dumps(template, option=orjson.OPT_INDENT_2) + b"\n"
