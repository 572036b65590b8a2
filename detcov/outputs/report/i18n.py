"""Message catalogues of the report (``messages/<lang>.yaml``): every label comes from here; ATT&CK names don't."""

from __future__ import annotations

import string
from dataclasses import dataclass
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

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.lang]


@cache
def catalogue(lang: str) -> Catalogue:
    """The catalogue of ``lang`` (any spelling :func:`parse_language` accepts)."""
    lang = parse_language(lang)
    import yaml  # only when a catalogue is read (``detcov report --help`` needs LANGUAGES alone)

    text = resources.files("detcov.outputs.report").joinpath("messages").joinpath(f"{lang}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return Catalogue(lang, {str(k): str(v) for k, v in data.items()})
