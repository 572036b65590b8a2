"""Message catalogues of the report (``messages/<lang>.yaml``): every label comes from here; ATT&CK names don't."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from detcov.errors import DetcovError

LANGUAGES = ("en", "zh-TW")
_ALIASES = {"en": "en", "en-us": "en", "en-gb": "en", "zh-tw": "zh-TW", "zh_tw": "zh-TW", "zh-hant": "zh-TW",
            "zh-hant-tw": "zh-TW"}
HTML_LANG = {"en": "en", "zh-TW": "zh-Hant-TW"}


def parse_language(text: str) -> str:
    lang = _ALIASES.get(text.strip().casefold())
    if lang is None:
        raise DetcovError(f"report language {text!r} is not available", hint=f"use one of: {', '.join(LANGUAGES)}")
    return lang


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@dataclass(frozen=True, slots=True)
class Catalogue:
    lang: str
    messages: dict[str, str]

    def __call__(self, key: str, **values: Any) -> str:
        """The label ``key``, with ``{name}`` placeholders filled in; a missing key is a programming error."""
        text = self.messages[key]
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in self.messages

    def maybe(self, prefix: str, code: str) -> str:
        """The label ``prefix.code`` when the catalogue has one, else ``code`` as written (user / third-party)."""
        return self(f"{prefix}.{code}") if f"{prefix}.{code}" in self.messages else code

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.lang]

    def quarter(self, quarter: str | None) -> str:
        """``2026Q3`` as this language writes it (zh-TW: 2026 年第 3 季)."""
        if not quarter:
            return self("na")
        return self("fmt.quarter", year=quarter[:4], q=quarter[5:])

    def date(self, iso: str | None) -> str:
        """An ISO date or timestamp as a date in this language (zh-TW: 2026年9月30日, with the ROC year)."""
        if not iso:
            return self("na")
        try:
            day = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        except ValueError:
            return iso
        return self("fmt.date", year=day.year, month=day.month, day=day.day, roc=day.year - 1911)

    def pct(self, value: float | None) -> str:
        return self("na") if value is None else f"{value:,.1f}%"

    def points(self, value: float | None) -> str:
        return self("na") if value is None else self("kpi.points", delta=f"{value:+.1f}")


@cache
def catalogue(lang: str) -> Catalogue:
    """The catalogue of ``lang`` (any spelling :func:`parse_language` accepts)."""
    lang = parse_language(lang)
    import yaml  # only when a catalogue is read (``detcov report --help`` needs LANGUAGES alone)

    text = resources.files("detcov.outputs.report").joinpath("messages").joinpath(f"{lang}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return Catalogue(lang, {str(k): str(v) for k, v in data.items()})
