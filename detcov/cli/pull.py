"""``detcov pull splunk|elastic|sentinel|defender``: rules with their live state, and log flow, from a SIEM."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from detcov.cli.common import console, err_console, print_issues
from detcov.errors import Issue, Severity
from detcov.siem.credentials import Credentials
from detcov.siem.http import TlsOptions
from detcov.siem.snapshot import PARTS, Connector, no_progress, run_pull, summary_lines

F = TypeVar("F", bound=Callable[..., Any])
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"s": 1, "": 1, "m": 60, "h": 3600, "d": 86400}


def _max_age(value: str) -> timedelta:
    match = _AGE.match(value)
    if not match:
        raise click.BadParameter(f"{value!r}: write a duration like 30m, 1h, 2d or 0", param_hint="--max-age")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def common_options(func: F) -> F:
    """Options every connector shares: where to write, what to pull, TLS, caching."""
    options = [
        click.option("--siem", "siem_id", metavar="ID", help="The SIEM id of the inventory's siems: (default: the "
                     "product name)."),
        click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Pull folder (default "
                     "detcov-pull/ID): manifest.json, rules/, flow/."),
        click.option("--window", type=click.IntRange(1, 365), default=30, show_default=True, metavar="DAYS",
                     help="Log-flow window: events of the last DAYS days."),
        click.option("--rules-only", is_flag=True, help="Pull the rules, not the log flow."),
        click.option("--flow-only", is_flag=True, help="Pull the log flow, not the rules."),
        click.option("--timeout", type=click.FloatRange(0.1, 3600), default=60.0, show_default=True,
                     metavar="SECONDS", help="Per-request timeout."),
        click.option("--ca-bundle", type=click.Path(path_type=Path, dir_okay=False, exists=True),
                     help="PEM file of the CA that signed the SIEM's certificate (internal PKI)."),
        click.option("--insecure", is_flag=True, help="Do NOT verify TLS certificates (a warning is shown and "
                     "recorded in the manifest)."),
        click.option("--max-age", default="1h", show_default=True, metavar="AGE",
                     help="Reuse a pull of the same SIEM and scope younger than AGE (30m, 1h, 2d; 0 = never)."),
        click.option("--refresh", is_flag=True, help="Pull again even if the cached pull is fresh."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int | None], None]]:
    if not enabled:
        yield no_progress
        return
    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        def update(what: str, done: int, total: int | None) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)
        yield update


def _pull(connector: Connector, tls: TlsOptions, opts: dict[str, Any]) -> None:
    if opts["rules_only"] and opts["flow_only"]:
        raise click.UsageError("--rules-only and --flow-only exclude each other")
    parts = ("rules",) if opts["rules_only"] else ("flow",) if opts["flow_only"] else PARTS
    if not tls.verify:
        print_issues([Issue("TLS certificates are NOT verified (--insecure): anyone on the path can read the "
                            "credentials and change the answers", None, "give --ca-bundle instead",
                            Severity.WARNING)])
    out: Path = opts["out"] or Path("detcov-pull") / connector.siem
    max_age = timedelta(0) if opts["refresh"] else _max_age(opts["max_age"])
    with _progress(err_console.is_terminal) as progress:
        manifest, issues = run_pull(connector, out, tls.describe, parts=parts, window_days=opts["window"],
                                    max_age=max_age, progress=progress)
    if manifest.cached:
        console.print(f"{connector.siem}: reusing the pull of {manifest.pulled_at} in {out} (younger than "
                      f"--max-age {opts['max_age']}; --refresh pulls again)")
    for line in summary_lines(manifest):
        console.print(f"{connector.siem}: {line}", soft_wrap=True, highlight=False, markup=False)
    console.print(f"{connector.siem}: manifest → {out / 'manifest.json'}", markup=False)
    print_issues(issues)
    failed = [p for p in parts if manifest.parts[p].status == "failed"]
    if failed:
        raise SystemExit(2 if len(failed) == len(parts) else 1)


def _tls(ca_bundle: Path | None, insecure: bool) -> TlsOptions:
    return TlsOptions(verify=not insecure, ca_bundle=ca_bundle)


@click.group(context_settings={"max_content_width": 110}, epilog="""Examples:

\b
  detcov pull splunk --url https://splunk:8089 --out pulls/splunk
  detcov pull elastic --url https://kibana:5601 --out pulls/elastic
""")
def pull() -> None:
    """Pull rules with their live state, and log-flow evidence, from a SIEM's API.

    Each pull writes a folder: rules/ in the SIEM's native format (read by `detcov rules check` and the scan
    like any exported rule file), flow/ID.csv (last event per index / sourcetype / table, for the scan's
    log_flow:) and manifest.json (who pulled what, from where, when; never a secret). Credentials come from the
    environment or the keyring (`keyring set detcov NAME`), never from the command line. Exit status 1 when a
    part failed (the previous file of that part is kept), 2 when nothing could be pulled.
    """


@pull.command("splunk")
@click.option("--url", envvar="SPLUNK_URL", required=True, help="Management API, e.g. https://splunk:8089 "
              "(or SPLUNK_URL).")
@click.option("--app", default="-", show_default=True, help="App namespace of the saved searches (- = all).")
@click.option("--owner", default="-", show_default=True, help="Owner namespace (- = all).")
@common_options
def splunk_cmd(url: str, app: str, owner: str, **opts: Any) -> None:
    """Splunk: saved searches with their state, tstats log flow.

    Saved searches with their enabled state and ES correlation-search annotations (mitre_attack), and
    `| tstats count latest(_time) where index=* by index, sourcetype` over the window.

    Credentials: SPLUNK_TOKEN, or SPLUNK_USERNAME + SPLUNK_PASSWORD.

    \b
    Examples:
      export SPLUNK_TOKEN=...        # or: keyring set detcov SPLUNK_TOKEN
      detcov pull splunk --url https://splunk:8089 --out pulled/splunk
      detcov pull splunk --url https://splunk:8089 --rules-only \
          --app SplunkEnterpriseSecuritySuite
      detcov pull splunk --url https://splunk:8089 --window 7 \
          --ca-bundle /etc/pki/bank-root.pem
    """
    from detcov.siem.splunk import SplunkConnector

    tls = _tls(opts["ca_bundle"], opts["insecure"])
    connector = SplunkConnector(opts["siem_id"] or "splunk", url, Credentials(), tls, timeout=opts["timeout"],
                                app=app, owner=owner)
    _pull(connector, tls, opts)


@pull.command("elastic")
@click.option("--url", "kibana_url", envvar="KIBANA_URL", required=True, help="Kibana, e.g. https://kibana:5601 "
              "(or KIBANA_URL).")
@click.option("--es-url", envvar="ELASTICSEARCH_URL", help="Elasticsearch for the log flow, e.g. "
              "https://es:9200 (or ELASTICSEARCH_URL).")
@click.option("--space", help="Kibana space of the rules (default space if absent).")
@click.option("--index", default="*,-.*", show_default=True, help="Index pattern to measure the log flow on.")
@common_options
def elastic_cmd(kibana_url: str, es_url: str | None, space: str | None, index: str, **opts: Any) -> None:
    """Elastic: detection rules with their state, index log flow.

    Detection-engine rules (enabled state, ATT&CK threat) from Kibana, and documents and the last @timestamp per
    index / data stream over the window from Elasticsearch.

    Credentials: ELASTIC_API_KEY (encoded), or ELASTIC_USERNAME + ELASTIC_PASSWORD.

    \b
    Examples:
      export ELASTIC_API_KEY=...     # or: keyring set detcov ELASTIC_API_KEY
      detcov pull elastic --url https://kibana:5601 --es-url https://es:9200
      detcov pull elastic --url https://kibana:5601 --space soc --rules-only
    """
    from detcov.siem.elastic import ElasticConnector

    tls = _tls(opts["ca_bundle"], opts["insecure"])
    connector = ElasticConnector(opts["siem_id"] or "elastic", kibana_url, es_url, Credentials(), tls,
                                 timeout=opts["timeout"], space=space, index=index)
    _pull(connector, tls, opts)


@pull.command("sentinel")
@click.option("--subscription", envvar="AZURE_SUBSCRIPTION_ID", required=True, help="Subscription id "
              "(or AZURE_SUBSCRIPTION_ID).")
@click.option("--resource-group", required=True, help="Resource group of the workspace.")
@click.option("--workspace", required=True, help="Log Analytics workspace name.")
@click.option("--workspace-id", help="Workspace id (GUID) for the Usage query (log flow).")
@click.option("--arm-url", default="https://management.azure.com", show_default=True, hidden=True)
@click.option("--logs-url", default="https://api.loganalytics.io", show_default=True, hidden=True)
@click.option("--authority", help="Entra ID login host (default AZURE_AUTHORITY_HOST or the public cloud).")
@common_options
def sentinel_cmd(subscription: str, resource_group: str, workspace: str, workspace_id: str | None, arm_url: str,
                 logs_url: str, authority: str | None, **opts: Any) -> None:
    """Microsoft Sentinel: analytics rules, last ingestion per table.

    Analytics rules (enabled state, tactics, techniques) over Azure Resource Manager, and the last ingestion per
    table from a Log Analytics Usage query.

    Credentials: AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET (Sentinel Reader and Log Analytics
    Reader), or tokens in DETCOV_ARM_TOKEN / DETCOV_LOGS_TOKEN.

    \b
    Examples:
      export AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=...
      detcov pull sentinel --subscription 0000-... --resource-group soc-rg \\
          --workspace soc-law --workspace-id 1111-... --out pulled/sentinel
    """
    from detcov.siem.sentinel import SentinelConnector

    tls = _tls(opts["ca_bundle"], opts["insecure"])
    connector = SentinelConnector(opts["siem_id"] or "sentinel", Credentials(), tls, subscription=subscription,
                                  resource_group=resource_group, workspace=workspace, workspace_id=workspace_id,
                                  arm_url=arm_url, logs_url=logs_url, authority=authority, timeout=opts["timeout"])
    _pull(connector, tls, opts)


@pull.command("defender")
@click.option("--graph-url", default="https://graph.microsoft.com", show_default=True, hidden=True)
@click.option("--authority", help="Entra ID login host (default AZURE_AUTHORITY_HOST or the public cloud).")
@common_options
def defender_cmd(graph_url: str, authority: str | None, **opts: Any) -> None:
    """Defender XDR: custom detections, advanced-hunting table flow.

    Custom detection rules over Microsoft Graph, and events and the last Timestamp per advanced-hunting table (at
    most 30 days).

    Credentials: AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET (CustomDetection.Read.All,
    ThreatHunting.Read.All), or a token in DETCOV_GRAPH_TOKEN.

    \b
    Examples:
      export AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=...
      detcov pull defender --siem defender --out pulled/defender --window 7
    """
    from detcov.siem.defender import DefenderConnector

    tls = _tls(opts["ca_bundle"], opts["insecure"])
    connector = DefenderConnector(opts["siem_id"] or "defender", Credentials(), tls, graph_url=graph_url,
                                  authority=authority, timeout=opts["timeout"])
    _pull(connector, tls, opts)


COMMANDS = (pull,)
