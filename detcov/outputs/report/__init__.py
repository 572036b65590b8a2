"""The quarterly effectiveness-evaluation report (HTML, PDF, XLSX; English and Traditional Chinese).

Public API::

    build_report(store, "2026Q3", out_dir, lang="zh-TW", formats=("html", "pdf", "xlsx"), kb=None) -> list[Path]

The names are imported on first use (:mod:`detcov.lazy`): ``detcov report --help`` needs no jinja2 or plotly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from detcov.lazy import lazy_exports

if TYPE_CHECKING:
    from detcov.outputs.report.i18n import (
        LANGUAGES as LANGUAGES,
    )
    from detcov.outputs.report.i18n import (
        catalogue as catalogue,
    )
    from detcov.outputs.report.i18n import (
        parse_language as parse_language,
    )
    from detcov.outputs.report.model import (
        ReportData as ReportData,
    )
    from detcov.outputs.report.model import (
        report_data as report_data,
    )
    from detcov.outputs.report.render import (
        FORMATS as FORMATS,
    )
    from detcov.outputs.report.render import (
        build_report as build_report,
    )
    from detcov.outputs.report.render import (
        parse_formats as parse_formats,
    )
    from detcov.outputs.report.render import (
        render_html as render_html,
    )

__getattr__, __all__ = lazy_exports(__name__, {
    "detcov.outputs.report.i18n": ("LANGUAGES", "catalogue", "parse_language"),
    "detcov.outputs.report.model": ("ReportData", "report_data"),
    "detcov.outputs.report.render": ("FORMATS", "build_report", "parse_formats", "render_html"),
})
