"""Credentials for the connectors: read-only, from the environment or the system keyring, never written anywhere.

Each credential has one name (``SPLUNK_TOKEN``, ``AZURE_CLIENT_SECRET`` ...). detcov looks for the environment
variable of that name, then (when the optional ``keyring`` package is installed) for the keyring entry of service
``detcov`` and that name: ``keyring set detcov SPLUNK_TOKEN``. A :class:`Secret` never shows its value in a repr,
a log line or an error message; the manifest records only *where* a credential came from.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from detcov.siem.http import SiemError

KEYRING_SERVICE = "detcov"


@dataclass(frozen=True, slots=True)
class Secret:
    """A credential value with its origin; ``str()`` and ``repr()`` are masked."""

    name: str
    value: str = field(repr=False)
    origin: str  # "environment" | "keyring"

    def __str__(self) -> str:
        return "***"

    @property
    def described(self) -> str:
        return f"{self.name} from the {self.origin}"


def _keyring_lookup(name: str) -> str | None:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return None
    try:
        value = keyring.get_password(KEYRING_SERVICE, name)
    except KeyringError:  # no usable backend (headless server): the environment is the way
        return None
    return value if isinstance(value, str) else None


@dataclass
class Credentials:
    """Looks credentials up; ``env`` and ``keyring`` are injectable for tests."""

    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    keyring: Callable[[str], str | None] = field(default_factory=lambda: _keyring_lookup)
    found: list[Secret] = field(default_factory=list)
    derived: list[str] = field(default_factory=list, repr=False)  # values made from secrets (basic-auth headers)

    def get(self, name: str) -> Secret | None:
        value = self.env.get(name)
        origin = "environment"
        if not value:
            value = self.keyring(name)
            origin = "keyring"
        if not value:
            return None
        secret = Secret(name, value, origin)
        self.found.append(secret)
        return secret

    def plain(self, name: str) -> str | None:
        """A setting that is not secret (a URL, a tenant id, a user name): the environment only."""
        value = self.env.get(name)
        return value.strip() if value and value.strip() else None

    @property
    def values(self) -> tuple[str, ...]:
        """Every secret value looked up so far (to scrub from messages)."""
        return (*(s.value for s in self.found), *self.derived)

    @property
    def described(self) -> list[str]:
        return [s.described for s in self.found]


def basic_auth(creds: Credentials, user_name: str, password_name: str) -> dict[str, str] | None:
    """An ``Authorization: Basic`` header from a user name (environment) and a password (environment or keyring);
    None when either is missing. The header value is scrubbed from messages like the password."""
    user = creds.plain(user_name)
    password = creds.get(password_name) if user else None
    if not (user and password):
        return None
    encoded = base64.b64encode(f"{user}:{password.value}".encode()).decode()
    creds.derived.append(encoded)
    return {"Authorization": f"Basic {encoded}"}


def token_or_basic(creds: Credentials, token_name: str, scheme: str, user_name: str, password_name: str,
                   product: str, hint: str) -> dict[str, str]:
    """``Authorization: {scheme} {token}`` when ``token_name`` is set, else HTTP basic from the user name and
    password; a :class:`~detcov.siem.http.SiemError` saying what to set when neither is there."""
    token = creds.get(token_name)
    if token:
        return {"Authorization": f"{scheme} {token.value}"}
    basic = basic_auth(creds, user_name, password_name)
    if basic:
        return basic
    raise SiemError(f"{product}: no credentials", f"set {hint}, or `keyring set detcov {token_name}`")
