"""``detcov report``: the quarterly effectiveness-evaluation report from the history store."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from detcov.cli.common import attack_options, console
from detcov.cli.history import optional_kb, store_option
from detcov.outputs.report.i18n import LANGUAGES


@click.command(epilog="""Examples:

\b
  detcov report --quarter 2026Q3 --out report                          # HTML, English
  detcov report --quarter 2026Q3 --lang zh-TW --format html,pdf,xlsx --out report
  detcov report --quarter 2026Q3 --store /srv/soc/detcov-history.sqlite --attack-version 18.1

PDF needs headless Chromium (Debian: apt-get install chromium; fonts-noto-cjk for zh-TW).
""")
@click.option("--quarter", required=True, help="The recorded quarter to report on, e.g. 2026Q3.")
@click.option("--lang", default="en", show_default=True, help=f"Label language: {', '.join(LANGUAGES)}.")
@click.option("--format", "formats", default="html", show_default=True,
              help="Comma-separated: html, pdf (headless Chromium), xlsx.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=".",
              show_default=True, help="Folder to write report-<quarter>-<lang>.<ext> into.")
@attack_options
@store_option
def report(quarter: str, lang: str, formats: str, out_dir: Path, attack_path: Path | None,
           attack_version: str | None, store: Path) -> None:
    """Quarterly effectiveness-evaluation report (HTML / PDF / XLSX, English or Traditional Chinese).

    The ATT&CK matrix heatmaps need the quarter's ATT&CK bundle: pass --attack, or keep it where detcov finds
    bundles (DETCOV_ATTACK_DATA, the download cache); without it they are left out with a note.
    """
    from detcov.outputs.report import build_report, parse_formats, parse_language

    written = build_report(store, quarter, out_dir, lang=parse_language(lang), formats=parse_formats(formats),
                           kb=optional_kb(attack_path, attack_version))
    for path in written:
        console.print(escape(str(path)))


COMMANDS = (report,)
