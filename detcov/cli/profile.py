"""``detcov profile list|show|compare``: threat profiles, their weighted techniques, how alike they are."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.markup import escape
from rich.table import Table

from detcov.attack.model import Provenance
from detcov.cli.common import attack_options, console, load_kb, print_issues
from detcov.defaults import DEFAULT_PROFILE
from detcov.errors import DetcovError
from detcov.outputs.names import names_list
from detcov.outputs.profile_layers import (
    IN_BOTH,
    Actor,
    campaign_actor,
    count_scale,
    heat_cells,
    overlay_cells,
    with_out_of_scope,
)

if TYPE_CHECKING:
    from detcov.apt_profiles import Profile, TechniqueWeight, WeightOptions
    from detcov.attack import AttackKB

F = TypeVar("F", bound=Callable[..., Any])
_ROUTES = {p.value: p for p in Provenance}
_SHORT = {Provenance.DIRECT: "dir", Provenance.CAMPAIGN: "camp", Provenance.SOFTWARE: "sw",
          Provenance.CAMPAIGN_SOFTWARE: "camp-sw"}


def weight_options(func: F) -> F:
    """``--weight ROUTE=W``, ``--counts``, ``--rollup``, ``--half-life`` → a ``weight_options`` kwarg."""
    func = click.option("--half-life", "half_life", type=click.FloatRange(min=0, min_open=True),
                        metavar="YEARS",
                        help="Recency: a use whose ATT&CK relationship is YEARS older counts half.")(func)
    func = click.option("--rollup", is_flag=True,
                        help="Sub-technique uses also count for the parent technique.")(func)
    func = click.option("--counts", is_flag=True,
                        help="Every route weighs 1: weights are plain numbers of groups (DeTT&CT).")(func)
    return click.option("--weight", "route_weights", multiple=True, metavar="ROUTE=W",
                        help="Provenance weight, e.g. software=0.2 or campaign-software=0 (routes: "
                             + ", ".join(_ROUTES) + "; defaults direct=1 campaign=1 software=0.5 "
                             "campaign-software=0.5).")(func)


def build_weight_options(route_weights: Sequence[str], counts: bool, rollup: bool,
                         half_life: float | None) -> WeightOptions:
    from detcov.apt_profiles import WeightOptions

    provenance: dict[Provenance, float] = dict.fromkeys(Provenance, 1.0) if counts else {}
    for item in route_weights:
        route, sep, value = item.partition("=")
        try:
            provenance[_ROUTES[route.strip().lower()]] = float(value)
        except (KeyError, ValueError):
            raise DetcovError(f"--weight {item!r}: expected ROUTE=NUMBER",
                              hint=f"routes: {', '.join(_ROUTES)}; e.g. --weight software=0.2") from None
        if not sep or float(value) < 0:
            raise DetcovError(f"--weight {item!r}: the weight must be a number >= 0",
                              hint="e.g. software=0.2")
    return WeightOptions(provenance=provenance, rollup=rollup, recency_half_life=half_life)


@click.group(epilog="""Examples:

\b
  detcov profile list                               # shipped profiles
  detcov profile show                               # financial-sector: groups, top techniques, tactics
  detcov profile show G0046 --weight software=0.2   # one ATT&CK group, software-borne uses weigh less
  detcov profile compare financial-sector ransomware-financial
  detcov profile compare taiwan-financial           # group × group similarity and clusters
""")
def profile() -> None:
    """Threat profiles: the groups that attack us and the techniques that matter most."""


@profile.command("list")
@attack_options
def list_(attack_path: Path | None, attack_version: str | None) -> None:
    """The profiles shipped with detcov."""
    from detcov.apt_profiles import load_profile, shipped_profiles

    kb, _ = load_kb(attack_path, attack_version, any_domain=True)
    table = Table(title=f"Shipped profiles (ATT&CK {kb.version})")
    for col in ("name", "title", "groups", "techniques"):
        table.add_column(col, justify="right" if col in ("groups", "techniques") else "left")
    for name in shipped_profiles():
        p = load_profile(name, kb)
        mark = " (default)" if name == DEFAULT_PROFILE else ""
        table.add_row(name + mark, escape(p.title), str(len(p.groups)), str(len(p.technique_ids())))
    console.print(table)


@profile.command()
@attack_options
@weight_options
@click.argument("name", required=False, default=DEFAULT_PROFILE)
@click.option("--top", type=click.IntRange(min=1), default=30, show_default=True, help="Techniques to list.")
def show(attack_path: Path | None, attack_version: str | None, route_weights: tuple[str, ...], counts: bool,
         rollup: bool, half_life: float | None, name: str, top: int) -> None:
    """Groups, top techniques with weights and provenance, and per-tactic distribution of a profile.

    NAME is a shipped profile (default: financial-sector), an apt-profile YAML, a STIX bundle (.json), a
    DeTT&CT group-administration file, or an ATT&CK group (id, name or alias).
    """
    from detcov.apt_profiles import load_profile_or_group

    options = build_weight_options(route_weights, counts, rollup, half_life)
    kb, _ = load_kb(attack_path, attack_version, any_domain=True)
    p = load_profile_or_group(name, kb)
    print_issues(p.issues)
    weights = p.weights(kb, options)
    console.print(f"[bold]{escape(p.title)}[/]  ({escape(p.source)}, ATT&CK {kb.version})")
    if p.description:
        console.print(escape(p.description))
    console.print(f"{len(p.groups)} groups, {len(weights)} techniques; {_options_text(options)}")
    console.print(_groups_table(p))
    console.print(_techniques_table(kb, weights, top))
    console.print(_tactics_table(kb, weights))


def _options_text(options: WeightOptions) -> str:
    routes = " ".join(f"{p.value}={w:g}" for p, w in options.provenance.items())
    extra = [f"roll-up {'on' if options.rollup else 'off'}"]
    if options.recency_half_life:
        extra.append(f"half-life {options.recency_half_life:g} y")
    return f"weights: {routes}; " + ", ".join(extra)


def _groups_table(p: Profile) -> Table:
    table = Table(title="Groups (distinct techniques per route)")
    table.add_column("group")
    for prov in Provenance:
        table.add_column(_SHORT[prov], justify="right")
    table.add_column("all", justify="right")
    table.add_column("why")
    for g in p.groups:
        routes = g.route_counts()
        why = g.reason or g.note or ""
        label = g.label + (f" ×{g.weight:g}" if g.weight != 1 else "")
        table.add_row(escape(label), *(str(routes[prov]) for prov in Provenance), str(len(g.technique_ids())),
                      escape(why if len(why) <= 60 else why[:57] + "…"))
    return table


def _techniques_table(kb: AttackKB, weights: Mapping[str, TechniqueWeight], top: int) -> Table:
    table = Table(title=f"Top {min(top, len(weights))} techniques by threat weight")
    for col in ("#", "technique", "name", "weight", "groups"):
        table.add_column(col, justify="right" if col in ("#", "weight", "groups") else "left",
                         no_wrap=col in ("technique", "weight"))
    for prov in Provenance:
        table.add_column(_SHORT[prov], justify="right")
    table.add_column("note")
    for rank, (tid, tw) in enumerate(list(weights.items())[:top], 1):
        t = kb.technique(tid)
        by_route = tw.provenance
        note = f"forced ≥{tw.forced.weight:g}: {tw.forced.note or ''}" if tw.forced else ""
        table.add_row(str(rank), tid, escape(t.name if t else "?"), f"{tw.weight:.2f}", str(tw.count),
                      *(str(by_route[prov]) for prov in Provenance), escape(note[:60]))
    return table


def _tactics_table(kb: AttackKB, weights: Mapping[str, TechniqueWeight]) -> Table:
    from detcov.apt_profiles import tactic_distribution

    shares = tactic_distribution(weights, kb)
    top = max((s.weight for s in shares), default=0.0) or 1.0
    table = Table(title="Per-tactic distribution (a technique in several tactics counts in each)")
    for col in ("tactic", "techniques", "weight", ""):
        table.add_column(col, justify="right" if col in ("techniques", "weight") else "left")
    for s in shares:
        table.add_row(f"{s.tactic.id} {s.tactic.name}", str(s.techniques), f"{s.weight:.1f}",
                      "█" * round(30 * s.weight / top))
    return table


@profile.command()
@attack_options
@weight_options
@click.argument("first")
@click.argument("second", required=False)
@click.option("--top", type=click.IntRange(min=1), default=15, show_default=True,
              help="Techniques to list per column / pairs to list.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.4, show_default=True,
              help="Similarity at which two groups of one profile are clustered together.")
def compare(attack_path: Path | None, attack_version: str | None, route_weights: tuple[str, ...],
            counts: bool, rollup: bool, half_life: float | None, first: str, second: str | None, top: int,
            threshold: float) -> None:
    """Overlap of two groups or profiles (Jaccard, shared and unique techniques).

    With one argument: the group × group similarity matrix of that profile, its most similar pairs and
    clusters. Arguments are profiles (shipped name or file) or ATT&CK groups (id, name or alias).
    """
    from detcov.apt_profiles import load_profile_or_group

    options = build_weight_options(route_weights, counts, rollup, half_life)
    kb, _ = load_kb(attack_path, attack_version, any_domain=True)
    a = load_profile_or_group(first, kb)
    print_issues(a.issues)
    if second is None:
        _print_matrix(a, options, top, threshold)
        return
    b = load_profile_or_group(second, kb)
    print_issues(b.issues)
    _print_comparison(kb, a, b, options, top)


def _print_comparison(kb: AttackKB, a: Profile, b: Profile, options: WeightOptions, top: int) -> None:
    from detcov.apt_profiles import compare_weights

    wa, wb = a.weights(kb, options), b.weights(kb, options)
    c = compare_weights(a.title, wa, b.title, wb)
    console.print(f"[bold]{escape(a.title)}[/] vs [bold]{escape(b.title)}[/] (ATT&CK {kb.version}): "
                  f"Jaccard {c.jaccard:.3f}, weighted Jaccard {c.weighted_jaccard:.3f}; "
                  f"shared {len(c.shared)}, only first {len(c.only_a)}, only second {len(c.only_b)}")
    shared = {t: wa[t].weight + wb[t].weight for t in c.shared}
    columns = (("shared", shared), (f"only {a.name}", {t: wa[t].weight for t in c.only_a}),
               (f"only {b.name}", {t: wb[t].weight for t in c.only_b}))
    table = Table(title=f"Top {top} techniques by weight")
    for title, _ in columns:
        table.add_column(escape(title))
    ranked = [_top(ws, top) for _, ws in columns]
    for i in range(max((len(r) for r in ranked), default=0)):
        table.add_row(*(_technique_label(kb, r[i]) if i < len(r) else "" for r in ranked))
    console.print(table)


def _top(weights: Mapping[str, float], n: int) -> list[str]:
    return sorted(weights, key=lambda t: (-weights[t], t))[:n]


def _technique_label(kb: AttackKB, tid: str) -> str:
    t = kb.technique(tid)
    return escape(f"{tid} {t.name}" if t else tid)


def _print_matrix(p: Profile, options: WeightOptions, top: int, threshold: float) -> None:
    from detcov.apt_profiles import similarity_clusters, similarity_matrix
    from detcov.apt_profiles.compare import most_similar

    matrix = similarity_matrix(p, options)
    keys = [str(k) for k in matrix.index]
    table = Table(title=f"Group × group Jaccard similarity — {p.title}")
    table.add_column("")
    for k in keys:
        table.add_column(escape(k), justify="right")
    values = matrix.to_numpy(dtype=float)
    for i, k in enumerate(keys):
        label = p.group(k)
        table.add_row(escape(label.label if label else k),
                      *("·" if i == j else f"{values[i, j]:.2f}" for j in range(len(keys))))
    console.print(table)
    console.print("[bold]Most similar pairs[/]")
    for x, y, v in most_similar(matrix, top):
        console.print(f"  {v:.2f}  {escape(x)} — {escape(y)}")
    clusters = similarity_clusters(matrix, threshold)
    console.print(f"[bold]Clusters at similarity ≥ {threshold:g}[/]: "
                  + ("; ".join(", ".join(c) for c in clusters) if clusters else "none"))


def _actors(kb: AttackKB, names: Sequence[str]) -> list[Actor]:
    """Groups of profiles / ATT&CK groups, and campaigns (``C0022`` or a campaign name), as actors."""
    from detcov.apt_profiles import load_profile_or_group

    out: dict[str, Actor] = {}
    for name in names:
        if re.fullmatch(r"[Cc]\d{4}", name.strip()) or (kb.group(name) is None and _is_campaign(kb, name)):
            actor = campaign_actor(kb, name)
            out[actor.id] = actor
            continue
        p = load_profile_or_group(name, kb)
        print_issues(p.issues)
        for g in p.groups:
            out.setdefault(g.key, Actor(g.key, g.name, frozenset(g.technique_ids())))
    return list(out.values())


def _is_campaign(kb: AttackKB, name: str) -> bool:
    folded = name.strip().casefold()
    return any(folded in {c.name.casefold(), *(a.casefold() for a in c.aliases)} for c in kb.campaigns)


@profile.command()
@attack_options
@click.option("-g", "--group", "groups", multiple=True, metavar="NAME",
              help="A group (id, name, alias), a profile (shipped name or file); repeatable.")
@click.option("-c", "--campaign", "campaigns", multiple=True, metavar="ID",
              help="A campaign (C0022 or its name); repeatable.")
@click.option("-o", "--overlay", "overlay", multiple=True, metavar="NAME",
              help="Groups, profiles or campaigns to overlay on the selection; repeatable.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The Navigator layer to write (.json).")
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the matrix heatmap as a self-contained HTML page.")
def layer(attack_path: Path | None, attack_version: str | None, groups: tuple[str, ...],
          campaigns: tuple[str, ...], overlay: tuple[str, ...], out: Path, html_path: Path | None) -> None:
    """A Navigator layer of groups or campaigns: a heat map of how many use each technique, or (with -o) an
    overlay of the selection with other groups or campaigns (like DeTT&CT's `group -g/-c/-o`)."""
    from detcov.outputs.heatmap import matrix_figure, write_html
    from detcov.outputs.navigator import View, build_layer, validate_layer, write_layer

    if not groups and not campaigns:
        raise DetcovError("nothing selected", hint="give -g GROUP (or a profile) and/or -c CAMPAIGN")
    kb, _ = load_kb(attack_path, attack_version)
    selection = _actors(kb, [*groups, *campaigns])
    kind = "campaigns" if campaigns and not groups else "groups"
    names = names_list([a.label for a in selection], 3)
    if overlay:
        against = _actors(kb, overlay)
        cells = overlay_cells(selection, against)
        view, scale = View.PROFILE_DETECTION, None
        title = f"{names} vs {names_list([a.label for a in against], 3)}"
        text = (f"Overlay of {len(selection)} selected actors ({names}) with {len(against)} others "
                f"({names_list([a.label for a in against])}): {sum(c.band is IN_BOTH for c in cells.values())} "
                "techniques in both")
    else:
        cells = heat_cells(selection, kind)
        view, scale = View.PROFILE, count_scale(kind, max((int(c.score or 0) for c in cells.values()), default=1))
        title = f"{kind.capitalize()}: {names}"
        text = f"Heat map: how many of the {len(selection)} selected {kind} ({names}) use each technique"
    built = build_layer(kb, view, cells, name=title, description=text, scale=scale)
    errors = [i for i in validate_layer(built, kb, source=str(out)) if i.severity.value == "error"]
    if errors:
        raise DetcovError(issues=errors)
    write_layer(out, built)
    console.print(f"{len(cells)} techniques; layer: {escape(str(out))}")
    if html_path:
        fig = matrix_figure(kb, with_out_of_scope(kb, cells), view, title=title, scale=scale)
        write_html(html_path, [("", fig)], title=title)
        console.print(f"heatmap: {escape(str(html_path))}")


COMMANDS = (profile,)
