"""Bearer tokens: loading the ``{token: tenant}`` map and resolving a request's token to its tenant.

Tokens come from a YAML or JSON file (``tokens_file``) or, without one, from the environment variable
``MEMALPHA_SERVER_TOKENS="tok1=tenantA,tok2=tenantB"``; never from code. Error messages name the file,
the entry's position and the tenant, never a token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from .exceptions import ServerConfigError
from .settings import ServerSettings
from .tenants import validate_tenant

__all__ = ["TOKENS_ENV", "TokenTable", "load_tokens"]

TOKENS_ENV = "MEMALPHA_SERVER_TOKENS"


def load_tokens(settings: ServerSettings) -> dict[str, str]:
    """The ``{token: tenant}`` map: from ``settings.tokens_file``, else from ``MEMALPHA_SERVER_TOKENS``.

    Raises `ServerConfigError` when the file or the variable is malformed, or when there are no tokens
    and ``settings.no_auth`` is off.
    """
    if settings.tokens_file is not None:
        tokens = _read_tokens_file(Path(settings.tokens_file))
    else:
        tokens = _parse_tokens_env(os.environ.get(TOKENS_ENV, ""))
    if not tokens and not settings.no_auth:
        raise ServerConfigError(
            "the server has no API tokens: pass a tokens file (YAML or JSON mapping token -> tenant, "
            f"e.g. `memalpha memory serve --tokens tokens.yaml`), set {TOKENS_ENV}='token1=tenantA,token2=tenantB', "
            "or run with no_auth (--no-auth) on a loopback host"
        )
    return tokens


def _read_tokens_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ServerConfigError(f"cannot read the tokens file {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ServerConfigError(f"the tokens file {str(path)!r} is not valid YAML/JSON: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ServerConfigError(
            f"the tokens file {str(path)!r} must hold a mapping of token -> tenant (e.g. `s3cret-token: team-a`), "
            f"got a {type(data).__name__}"
        )
    tokens: dict[str, str] = {}
    for position, (token, tenant) in enumerate(data.items(), 1):
        where = f"entry {position} of the tokens file {str(path)!r}"
        tokens[_check_token(token, where)] = _check_tenant(tenant, where)
    if not tokens:
        raise ServerConfigError(f"the tokens file {str(path)!r} holds no tokens")
    return tokens


def _parse_tokens_env(value: str) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for position, item in enumerate((part.strip() for part in value.split(",")), 1):
        if not item:
            continue
        token, sep, tenant = item.rpartition("=")
        where = f"item {position} of {TOKENS_ENV}"
        if not sep or not token:
            raise ServerConfigError(
                f"{where} is not of the form token=tenant; write {TOKENS_ENV}='tok1=teamA,tok2=teamB'"
            )
        tokens[_check_token(token.strip(), where)] = _check_tenant(tenant.strip(), where)
    return tokens


def _check_token(token: object, where: str) -> str:
    if not isinstance(token, str):
        raise ServerConfigError(f"the token of {where} is a {type(token).__name__}; quote it so it is a string")
    if not token or token != token.strip() or any(c.isspace() for c in token):
        raise ServerConfigError(f"the token of {where} is empty or contains whitespace")
    return token


def _check_tenant(tenant: object, where: str) -> str:
    try:
        return validate_tenant(tenant)
    except ServerConfigError as exc:
        raise ServerConfigError(f"{where}: {exc}") from None


class TokenTable:
    """Resolves bearer tokens to tenants. Tokens are kept only as SHA-256 digests and compared in constant time."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._digests = [(_digest(token), tenant) for token, tenant in tokens.items()]

    def __len__(self) -> int:
        return len(self._digests)

    def tenant_of(self, token: str) -> str | None:
        """The tenant of ``token``, or None for an unknown token."""
        digest = _digest(token)
        found: str | None = None
        for known, tenant in self._digests:  # no early exit: the time does not depend on which token matched
            if hmac.compare_digest(known, digest):
                found = tenant
        return found

    @property
    def tenants(self) -> set[str]:
        """The tenants that have at least one token."""
        return {tenant for _, tenant in self._digests}


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()
