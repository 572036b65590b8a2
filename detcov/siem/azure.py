"""Microsoft Entra ID tokens for the Sentinel and Defender XDR connectors (OAuth 2.0 client credentials).

``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID`` and ``AZURE_CLIENT_SECRET`` (the names azure-identity's environment
credential uses; the secret may come from the keyring) → ``POST {authority}/{tenant}/oauth2/v2.0/token`` with
``scope={resource}/.default``. A token issued elsewhere (``az account get-access-token --resource ...``, a managed
identity) can be given instead in the variable the connector names (``DETCOV_ARM_TOKEN`` ...).
``AZURE_AUTHORITY_HOST`` points at a sovereign cloud's login host.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from detcov.siem.credentials import Credentials
from detcov.siem.http import HttpClient, SiemError, TlsOptions

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
_HINT = ("check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (an app registration with read access), "
         "or give a token in {token_var}")


def bearer_token(creds: Credentials, token_var: str, resource: str, tls: TlsOptions, *, authority: str | None,
                 timeout: float, sleep: Callable[[float], None] = time.sleep) -> tuple[str, int]:
    """(access token, HTTP requests made) for ``resource`` (``https://management.azure.com`` ...)."""
    given = creds.get(token_var)
    if given:
        return given.value, 0
    tenant, client = creds.plain("AZURE_TENANT_ID"), creds.plain("AZURE_CLIENT_ID")
    secret = creds.get("AZURE_CLIENT_SECRET") if tenant and client else None
    if not (tenant and client and secret):
        raise SiemError(f"Azure: no credentials for {resource}", _HINT.format(token_var=token_var))
    host = authority or creds.plain("AZURE_AUTHORITY_HOST") or DEFAULT_AUTHORITY
    http = HttpClient(host, "Microsoft Entra ID", {}, creds.values, tls, timeout, sleep=sleep,
                      auth_hint=_HINT.format(token_var=token_var))
    doc = http.post_form(f"{tenant}/oauth2/v2.0/token", {
        "grant_type": "client_credentials", "client_id": client, "client_secret": secret.value,
        "scope": f"{resource.rstrip('/')}/.default"})
    token = doc.get("access_token") if isinstance(doc, dict) else None
    if not isinstance(token, str) or not token:
        raise SiemError("Microsoft Entra ID: the token answer has no access_token", _HINT.format(token_var=token_var))
    creds.derived.append(token)
    return token, http.requests
