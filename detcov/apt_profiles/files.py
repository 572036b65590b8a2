"""Models of the profile files users write: ``apt-profile`` YAML and DeTT&CT ``group-administration`` YAML.

Short forms are accepted and normalised before validation, so that errors still point at the right line:

* a group may be written as ``- FIN7`` (id, name or alias) or as a mapping with ``id:`` and details;
* a technique list may be ``- T1059.001``, ``- {id: T1059.001, weight: 2}`` or a DeTT&CT-style mapping
  ``{T1059.001: 2, T1105: 1}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from detcov.userfiles import UserModel

PROFILE_FILE_TYPE = "apt-profile"
PROFILE_VERSIONS = (1,)
DETTECT_FILE_TYPE = "group-administration"
DETTECT_VERSIONS = (1, "1.0")


def _items_as_mappings(value: Any, key: str) -> Any:
    """``[a, {..}]`` -> ``[{key: a}, {..}]``; a mapping ``{a: w}`` -> ``[{key: a, weight: w}]``."""
    if isinstance(value, Mapping):
        return [{key: str(k), "weight": v} for k, v in value.items()]
    if isinstance(value, list):
        return [{key: item} if isinstance(item, str) else item for item in value]
    return value


class TechniqueEntry(UserModel):
    """One technique of an actor (or one technique forced into the profile)."""

    id: str
    weight: float = Field(1.0, ge=0, description="multiplies the actor's contribution (floor when forced)")
    note: str | None = None
    source: str | None = None


class QuoteEntry(UserModel):
    """A quote from the group's ATT&CK description; ``since``/``until``: ATT&CK major versions with it."""

    text: str = Field(min_length=8)
    since: int | None = None
    until: int | None = None

    def applies_to(self, major: int | None) -> bool:
        if major is None:
            return True
        return (self.since is None or major >= self.since) and (self.until is None or major <= self.until)


class GroupEntry(UserModel):
    """An ATT&CK group by id, name or alias, with why it is in the profile."""

    id: str = Field(min_length=1)
    name: str | None = None
    weight: float = Field(1.0, ge=0)
    quotes: list[QuoteEntry] = Field(default_factory=list)
    reason: str | None = None
    note: str | None = None

    @field_validator("quotes", mode="before")
    @classmethod
    def _quote_strings(cls, value: Any) -> Any:
        return _items_as_mappings(value, "text")


class ActorEntry(UserModel):
    """A custom actor (F-ISAC bulletin, vendor report): its own technique and software lists."""

    name: str = Field(min_length=1)
    techniques: list[TechniqueEntry] = Field(default_factory=list)
    software: list[str] = Field(default_factory=list)
    weight: float = Field(1.0, ge=0)
    attack_group: str | None = Field(None, description="the ATT&CK group this actor corresponds to, if any")
    note: str | None = None
    source: str | None = None

    @field_validator("techniques", mode="before")
    @classmethod
    def _technique_short_forms(cls, value: Any) -> Any:
        return _items_as_mappings(value, "id")


class ProfileFile(UserModel):
    """``file_type: apt-profile``: who attacks us, and which techniques matter most."""

    version: int | str
    file_type: str
    name: str | None = None
    title: str | None = None
    description: str | None = None
    include: list[str] = Field(default_factory=list)
    groups: list[GroupEntry] = Field(default_factory=list)
    actors: list[ActorEntry] = Field(default_factory=list)
    techniques: list[TechniqueEntry] = Field(default_factory=list)
    platforms: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    notes: str | None = None

    @field_validator("groups", mode="before")
    @classmethod
    def _group_short_forms(cls, value: Any) -> Any:
        return _items_as_mappings(value, "id")

    @field_validator("techniques", mode="before")
    @classmethod
    def _technique_short_forms(cls, value: Any) -> Any:
        return _items_as_mappings(value, "id")


class DettectGroup(UserModel):
    """One entry of a DeTT&CT group-administration file."""

    group_name: str
    campaign: str | None = None
    technique_id: list[TechniqueEntry] = Field(default_factory=list)
    software_id: list[str] | None = None
    enabled: bool = True

    @field_validator("technique_id", mode="before")
    @classmethod
    def _technique_short_forms(cls, value: Any) -> Any:
        return _items_as_mappings(value, "id")

    @field_validator("group_name", "campaign", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class DettectGroupFile(UserModel):
    """DeTT&CT ``group-administration`` v1.0 (see shared/docs/DETTECT.md)."""

    version: int | float | str
    file_type: str
    domain: str | None = None
    name: str | None = None
    platform: list[str] | str | None = None
    groups: list[DettectGroup] = Field(default_factory=list)
