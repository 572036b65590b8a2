"""``detcov attack info|show|download``: look into the ATT&CK knowledge base."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from detcov.cli.common import attack_options, console, err_console, load_kb
from detcov.errors import DetcovError

if TYPE_CHECKING:
    from detcov.attack import AttackKB
    from detcov.attack.model import DetectionRef, Technique


@click.group(epilog="""Examples:

\b
  detcov attack info                          # version, counts, where the bundle came from
  detcov attack show T1059.001                # telemetry, groups and mitigations of one technique
  detcov attack info --attack-version 17.1    # another version (from DETCOV_ATTACK_DATA or a download)
  detcov attack download --attack-version 17.1
""")
def attack() -> None:
    """Inspect the ATT&CK knowledge base (version, counts, techniques).

    Without --attack, detcov uses $DETCOV_ATTACK_DATA, then bundles downloaded with `detcov attack download`,
    then the ATT&CK Enterprise 18.1 bundle shipped inside detcov (works offline).
    """


@attack.command()
@attack_options
@click.option("--no-cache", is_flag=True, help="Parse the bundle again instead of using the normalised cache.")
def info(attack_path: Path | None, attack_version: str | None, no_cache: bool) -> None:
    """ATT&CK version, domain, object counts and load time."""
    kb, stats = load_kb(attack_path, attack_version, use_cache=not no_cache, any_domain=True)
    i = kb.info
    techniques = kb.techniques(subtechniques=False)
    table = Table(title=f"ATT&CK {i.version or '(version unknown)'} — {i.domain}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("source", f"{stats.path} ({stats.origin})"),
        ("STIX / ATT&CK spec", f"{i.spec_version} / {i.attack_spec_version or '?'}"),
        ("detection model", _model_text(kb)),
        ("tactics", f"{len(kb.tactics)}: " + ", ".join(t.name for t in kb.tactics)),
        ("techniques", str(len(techniques))),
        ("sub-techniques", str(len(kb.techniques()) - len(techniques))),
        ("groups", str(len(kb.groups()))),
        ("software", str(sum(1 for s in kb.software if not (s.revoked or s.deprecated)))),
        ("campaigns", str(sum(1 for c in kb.campaigns if not (c.revoked or c.deprecated)))),
        ("mitigations", str(len(kb.mitigations()))),
        ("data components", str(len(kb.data_components()))),
        ("detection strategies", str(len(kb.data.strategies))),
        ("analytics", str(len(kb.data.analytics))),
        ("revoked / deprecated techniques", f"{sum(t.revoked for t in kb.data.techniques)} / "
                                            f"{sum(t.deprecated and not t.revoked for t in kb.data.techniques)}"),
        ("loaded in", f"{stats.seconds:.2f} s ({'from cache' if stats.from_cache else 'cold: bundle parsed'})"),
        *_crosswalk_rows(kb),
    ]
    for key, value in rows:
        table.add_row(key, escape(value))
    console.print(table)
    console.print("ATT&CK® © The MITRE Corporation, used under its terms of use (https://attack.mitre.org/resources/"
                  "terms-of-use/).", soft_wrap=True)


def _crosswalk_rows(kb: AttackKB) -> list[tuple[str, str]]:
    cw = kb.crosswalk
    if cw is None:
        return [("coverage scan", f"Enterprise only: this {kb.info.domain} bundle serves attack info/show and "
                                  "profiles")]
    side = f"v{cw.newer_major}+ ids of rules count under their {cw.older} equivalents"
    if kb.ids.loaded_is_newer:
        old = cw.older.split(".")[0]
        side = f"v{old} ids count under their v{cw.newer_major}+ ids (this bundle's revoked-by first)"
    from_bundle = sum(1 for p in cw.pairs if p.sources == ("bundle",))
    overridden = f"; {from_bundle} taken from this bundle's revoked-by links" if from_bundle else ""
    return [("id crosswalk", f"{len(cw.pairs)} technique pairs {cw.older} ↔ {cw.newer}{overridden}: {side}")]


def _model_text(kb: AttackKB) -> str:
    if kb.detection_model.value == "analytics":
        return "v18+: detection strategies → analytics → log sources → data components"
    return "v17 and earlier: data components detect techniques"


@attack.command()
@attack_options
@click.argument("technique_id")
def show(attack_path: Path | None, attack_version: str | None, technique_id: str) -> None:
    """Everything detcov knows about one technique: visibility sources, groups, mitigations."""
    from detcov.attack import IdStatus

    kb, _ = load_kb(attack_path, attack_version, any_domain=True)
    res = kb.resolve(technique_id)
    if res.status in (IdStatus.INVALID, IdStatus.UNKNOWN):
        hint = (f"did you mean {', '.join(res.suggestions)}?" if res.suggestions
                else "load that release with --attack PATH" if res.release
                else "check the id on attack.mitre.org")
        where = "" if res.release else f" (ATT&CK {kb.version})"
        raise DetcovError(f"{technique_id!r}: {res.note or 'unknown technique'}{where}", hint=hint)
    if res.status is IdStatus.REVOKED:
        err_console.print(f"[yellow]{res.id} was revoked; replaced by {' → '.join(res.chain[1:])}[/]")
    if res.status is IdStatus.CROSSWALKED:
        err_console.print(f"[yellow]{escape(res.note)}[/]")
    shown = kb.technique(res.current or res.id or "")
    assert shown is not None
    _print_technique(kb, shown)


def _print_technique(kb: AttackKB, t: Technique) -> None:
    tactic_names = [tac.name for tac in kb.tactics if tac.shortname in t.tactics]
    status = "deprecated" if t.deprecated else "active"
    console.print(f"[bold]{t.id} {escape(t.name)}[/] ({status}) {t.url}")
    console.print(f"tactics: {', '.join(tactic_names)}")
    console.print(f"platforms: {', '.join(t.platforms)}")
    parent = kb.technique(t.parent) if t.parent else None
    if parent:
        console.print(f"parent: {parent.id} {escape(parent.name)}")
    subs = kb.subtechniques(t.id)
    if subs:
        console.print("sub-techniques: " + ", ".join(f"{s.id} {s.name}" for s in subs))
    _print_visibility(kb, t)
    _print_groups(kb, t)
    _print_mitigations(kb, t)


def _print_visibility(kb: AttackKB, t: Technique) -> None:
    by_platform: dict[str, list[DetectionRef]] = defaultdict(list)
    for ref in kb.detection_refs(t.id):
        by_platform[ref.platform or "any"].append(ref)
    table = Table(title="Visibility: data components and log sources", title_justify="left")
    for col in ("platform", "data component", "log source", "channel", "analytic"):
        table.add_column(col)
    for platform in sorted(by_platform):
        for ref in sorted(by_platform[platform], key=lambda r: (r.analytic or "", r.data_component)):
            dc = kb.data_component(ref.data_component)
            table.add_row(platform, escape(dc.label if dc else ref.data_component),
                          escape(ref.log_source.name if ref.log_source else "—"),
                          escape(ref.log_source.channel or "—" if ref.log_source else "—"),
                          " ".join(filter(None, (ref.strategy, ref.analytic))) or "—")
    if not by_platform:
        console.print("visibility: ATT&CK lists no telemetry for this technique")
    else:
        console.print(table)


def _print_groups(kb: AttackKB, t: Technique) -> None:
    from detcov.attack.model import Provenance

    using = kb.groups_using(t.id)
    table = Table(title=f"Groups that use it ({len(using)})", title_justify="left")
    for col in ("group", "name", "how"):
        table.add_column(col)
    order = list(Provenance)
    for gid in sorted(using, key=lambda g: (min(order.index(u.provenance) for u in using[g]), g)):
        group = kb.group(gid)
        how = sorted({u.provenance.value + (f" {u.via}" if u.via else "") for u in using[gid]})
        table.add_row(gid, escape(group.name if group else gid), escape(", ".join(how[:4]) + (" …" if len(how) > 4
                                                                                                else "")))
    console.print(table)


def _print_mitigations(kb: AttackKB, t: Technique) -> None:
    table = Table(title="Mitigations", title_justify="left")
    for col in ("id", "mitigation", "how it applies"):
        table.add_column(col)
    for m in sorted(kb.mitigations_for(t.id), key=lambda m: m.mitigation):
        mit = kb.mitigation(m.mitigation)
        text = " ".join(m.description.split())
        table.add_row(m.mitigation, escape(mit.name if mit else ""), escape(text[:160] + ("…" if len(text) > 160
                                                                                           else "")))
    console.print(table)


@attack.command()
@attack_options
def crosswalk(attack_path: Path | None, attack_version: str | None) -> None:
    """The v18 ↔ v19+ id crosswalk as the loaded bundle applies it, with the sources of each pair."""
    kb, _ = load_kb(attack_path, attack_version)
    cw = kb.crosswalk
    assert cw is not None  # Enterprise only, and load_kb loads Enterprise
    table = Table(title=f"ATT&CK id crosswalk {cw.older} ↔ {cw.newer} (loaded: {kb.version})", title_justify="left")
    for col in ("old id", "new id", "direction", "sources", "evidence"):
        table.add_column(col)
    for p in (*cw.pairs, *cw.tactics):
        table.add_row(escape(f"{p.old} {p.old_name}"), escape(f"{p.new} {p.new_name}".strip()), p.direction.value,
                      ", ".join(p.sources), escape(p.evidence))
    for new, evidence in cw.no_equivalent.items():
        table.add_row("—", new, "none", "", escape(evidence))
    console.print(table)
    for key in sorted(cw.sources):
        console.print(f"{key}: {escape(cw.sources[key])}")
    console.print("bundle: the loaded bundle's own revoked-by relationships (they win over the table)")


@attack.command()
@click.option("--attack-version", "version", metavar="VERSION",
              help="Version to fetch (default: the newest that mitreattack-python pins, with a warning when detcov "
                   "was not tested on it with real data).")
@click.option("--domain", type=click.Choice(["enterprise", "mobile", "ics"]), default="enterprise", show_default=True,
              help="ATT&CK domain (Mobile and ICS serve attack info/show and profiles; the scan needs Enterprise).")
@click.option("--url", "base_url", metavar="URL", help="Mirror base URL (or set DETCOV_ATTACK_URL).")
@click.option("--sha256", "expected", metavar="HEX", help="Expected SHA-256, for versions mitreattack does not pin.")
def download(version: str | None, domain: str, base_url: str | None, expected: str | None) -> None:
    """Download an ATT&CK bundle (verified SHA-256) into the user cache dir."""
    from detcov.attack.download import download_bundle, latest_pinned_version, published_checksums, untested_warning

    version = version or latest_pinned_version(published_checksums(domain))
    warning = untested_warning(version) if domain == "enterprise" else (
        f"ATT&CK {domain} bundles are tested on synthetic data only; use them with --attack PATH")
    if warning:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}")
    err_console.print(f"downloading ATT&CK {domain} {version} …")
    path = download_bundle(version, base_url=base_url, expected_sha256=expected, domain=domain)
    console.print(f"saved and verified: {path}")


COMMANDS = (attack,)
