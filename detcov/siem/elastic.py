"""Elastic Security: detection rules from Kibana, log flow from Elasticsearch.

* Rules: ``GET {kibana}[/s/{space}]/api/detection_engine/rules/_find?page=N&per_page=M`` (``page`` / ``perPage`` /
  ``total`` / ``data``), written as Kibana NDJSON (one rule object a line, ``enabled`` as Kibana has it), the
  shape the Kibana export reader reads.
* Log flow: one aggregation over the indices and data streams of ``--index`` (default ``*,-.*``: no system
  indices): documents and ``max(@timestamp)`` over the window per backing index, folded to the data stream name.
  Failed shards and truncated buckets are reported as a partial answer.
* Auth: ``ELASTIC_API_KEY`` (the encoded API key, sent as ``Authorization: ApiKey``), else ``ELASTIC_USERNAME`` +
  ``ELASTIC_PASSWORD``. Kibana needs ``read`` on Security rules; Elasticsearch ``read`` / ``view_index_metadata``.

Shapes follow the Kibana detection-engine "Find rules" reference and the Elasticsearch search / aggregation
references.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from detcov.siem.credentials import Credentials, token_or_basic
from detcov.siem.flow import FlowObservation, parse_time, stream_name
from detcov.siem.http import HttpClient, SiemError, TlsOptions
from detcov.siem.snapshot import FlowSnapshot, Progress, RulesSnapshot, json_items

MAX_BUCKETS = 10_000
API_VERSION = "2023-10-31"  # Kibana's public API version header (accepted by 8.x, required on serverless)


class ElasticConnector:
    product = "elastic"

    def __init__(self, siem: str, kibana_url: str, es_url: str | None, creds: Credentials, tls: TlsOptions, *,
                 timeout: float = 60.0, space: str | None = None, index: str = "*,-.*", page_size: int = 100,
                 timestamp_field: str = "@timestamp", sleep: Callable[[float], None] = time.sleep) -> None:
        self.siem, self.space, self.index, self.page_size = siem, space, index, page_size
        self.timestamp_field = timestamp_field
        self.creds = creds
        headers = token_or_basic(creds, "ELASTIC_API_KEY", "ApiKey", "ELASTIC_USERNAME", "ELASTIC_PASSWORD", "Elastic",
                          "ELASTIC_API_KEY (Stack Management → API keys, the encoded value) or ELASTIC_USERNAME "
                          "and ELASTIC_PASSWORD")
        hint = ("check ELASTIC_API_KEY (or ELASTIC_USERNAME / ELASTIC_PASSWORD) and that the key may read "
                "Security rules and the indices")
        self.kibana = HttpClient(kibana_url, "Kibana", {**headers, "elastic-api-version": API_VERSION},
                                 creds.values, tls, timeout, sleep=sleep, auth_hint=hint)
        self.es = HttpClient(es_url, "Elasticsearch", headers, creds.values, tls, timeout, sleep=sleep,
                             auth_hint=hint) if es_url else None

    def endpoint(self) -> dict[str, str]:
        out = {"url": self.kibana.base_url, "space": self.space or "default", "index": self.index}
        if self.es:
            out["es_url"] = self.es.base_url
        return out

    def credential_origins(self) -> list[str]:
        return self.creds.described

    def request_count(self) -> int:
        return self.kibana.requests + (self.es.requests if self.es else 0)

    def pull_rules(self, progress: Progress) -> RulesSnapshot:
        prefix = f"s/{self.space}/" if self.space and self.space != "default" else ""
        rules: list[Mapping[str, Any]] = []
        page, total = 1, None
        while total is None or len(rules) < total:
            doc = self.kibana.get(f"{prefix}api/detection_engine/rules/_find",
                                  {"page": page, "per_page": self.page_size, "sort_field": "name",
                                   "sort_order": "asc"})
            data = json_items(doc, "data")
            total = int(doc.get("total", len(rules) + len(data)))
            rules.extend(data)
            progress("detection rules", len(rules), total)
            if not data:
                break
            page += 1
        if len(rules) < (total or 0):
            raise SiemError(f"Kibana: listed {len(rules)} of {total} rules (the list changed while paging)",
                            "pull again")
        content = b"".join(orjson.dumps(r) + b"\n" for r in rules)
        return RulesSnapshot("kibana-rules.ndjson", content, len(rules), "elastic")

    def pull_flow(self, window_days: int, progress: Progress) -> FlowSnapshot:
        if self.es is None:
            raise SiemError("Elastic: no Elasticsearch URL for the log flow",
                            "give --es-url (or ELASTICSEARCH_URL), or pull --rules-only")
        progress("index flow", 0, None)
        body = {"size": 0, "track_total_hits": False,
                "query": {"range": {self.timestamp_field: {"gte": f"now-{window_days}d"}}},
                "aggs": {"by_index": {"terms": {"field": "_index", "size": MAX_BUCKETS},
                                      "aggs": {"last": {"max": {"field": self.timestamp_field}}}}}}
        doc = self.es.post_json(f"{self.index}/_search", body,
                                {"ignore_unavailable": "true", "allow_no_indices": "true"})
        agg = doc.get("aggregations", {}).get("by_index") if isinstance(doc, Mapping) else None
        if not isinstance(agg, Mapping):
            raise SiemError("Elasticsearch: the answer has no aggregation", "check --es-url and --index")
        observations = _fold(self.siem, json_items(agg, "buckets"))
        progress("index flow", len(observations), len(observations))
        return FlowSnapshot(tuple(observations), tuple(_partial(doc, agg)),
                            f"terms(_index) + max({self.timestamp_field}) on {self.index} over now-{window_days}d")


def _fold(siem: str, buckets: list[Mapping[str, Any]]) -> list[FlowObservation]:
    """Backing indices → their data stream: counts added, newest time kept."""
    merged: dict[str, tuple[int, Any]] = {}
    for bucket in buckets:
        name = stream_name(str(bucket.get("key", "")))
        last = parse_time((bucket.get("last") or {}).get("value"))
        count, seen = merged.get(name, (0, None))
        newest = max((t for t in (seen, last) if t is not None), default=None)
        merged[name] = (count + int(bucket.get("doc_count", 0)), newest)
    return [FlowObservation(siem, name, None, None, last, count, "elasticsearch aggregation")
            for name, (count, last) in sorted(merged.items()) if name]


def _partial(doc: Mapping[str, Any], agg: Mapping[str, Any]) -> list[str]:
    out = []
    shards = doc.get("_shards") if isinstance(doc.get("_shards"), Mapping) else {}
    if int(shards.get("failed", 0) or 0):  # type: ignore[union-attr]
        out.append(f"partial answer: {shards.get('failed')} of {shards.get('total')} shards failed; "  # type: ignore[union-attr]
                   "indices on them may look silent")
    if doc.get("timed_out"):
        out.append("partial answer: the search timed out; counts may be low")
    if int(agg.get("sum_other_doc_count", 0) or 0):
        out.append(f"more than {MAX_BUCKETS} indices: the smallest were left out (narrow --index)")
    return out
