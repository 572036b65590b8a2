"""The quarterly effectiveness-evaluation report (HTML, PDF, XLSX; English and Traditional Chinese).

Public API::

    build_report(store, "2026Q3", out_dir, lang="zh-TW", formats=("html", "pdf", "xlsx"), kb=None) -> list[Path]
"""

from detcov.outputs.report.i18n import LANGUAGES, catalogue, parse_language
from detcov.outputs.report.model import ReportData, report_data
from detcov.outputs.report.render import FORMATS, build_report, parse_formats, render_html

__all__ = ["FORMATS", "LANGUAGES", "ReportData", "build_report", "catalogue", "parse_formats", "parse_language",
           "render_html", "report_data"]
