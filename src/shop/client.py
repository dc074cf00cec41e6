"""Credentials for clients of the shop's APIs: the load generator, the demo, the tests.

Each helper gives an ``httpx.Auth`` to pass to a client or to one request::

    staff = staff_auth(users_client, client_config())      # logs in as the bootstrap staff
    await catalog.post("/products", json=..., auth=staff)
    ada = await new_customer(users_client, "ada@example.com", "Ada")
    await orders.post("/orders", json={"lines": [...]}, auth=ada.auth)

A token is fetched on first use and fetched again shortly before it expires (or
once after a 401), so a long run outlives the tokens' lifetime.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx

from shop.common.auth import (
    STAFF_EMAIL_VARIABLE,
    STAFF_PASSWORD_VARIABLE,
    AuthConfig,
    IssuedToken,
    Role,
)
from tidings.errors import ConfigurationError

REFRESH_MARGIN_SECONDS = 60.0


class BearerAuth(httpx.Auth):
    """A fixed bearer token (the operator token)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class TokenAuth(httpx.Auth):
    """A bearer token from ``obtain()``, fetched again before it expires."""

    def __init__(self, obtain: Callable[[], Awaitable[IssuedToken]]) -> None:
        self._obtain = obtain
        self._token: IssuedToken | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self, *, fresh: bool = False) -> str:
        async with self._lock:  # concurrent requests at expiry fetch one token, not many
            margin = min(REFRESH_MARGIN_SECONDS, (self._token.expires_in / 2) if self._token else 0)
            if fresh or self._token is None or time.monotonic() > self._expires_at - margin:
                self._token = await self._obtain()
                self._expires_at = time.monotonic() + self._token.expires_in
            return self._token.access_token

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("TokenAuth works with httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.token()}"
        response = yield request
        if response.status_code == 401:  # expired early (a clock step, a new secret): once more
            request.headers["Authorization"] = f"Bearer {await self.token(fresh=True)}"
            yield request


async def log_in(users: httpx.AsyncClient, email: str, password: str) -> IssuedToken:
    """A token from the users service (``POST /auth/token``)."""
    response = await users.post("/auth/token", json={"email": email, "password": password})
    if response.status_code != 200:
        raise PermissionError(f"logging in as {email} was refused: {response.text}")
    body = response.json()
    return IssuedToken(
        access_token=body["access_token"],
        expires_in=int(body["expires_in"]),
        subject=body["user_id"],
        role=Role(body["role"]),
    )


def password_auth(users: httpx.AsyncClient, email: str, password: str) -> TokenAuth:
    """Logs in as ``email`` through ``users`` whenever a token is needed."""
    return TokenAuth(lambda: log_in(users, email, password))


def minted_auth(config: AuthConfig, subject: str, role: Role) -> TokenAuth:
    """Tokens signed directly with ``config``'s secret: for holders of the secret only
    (the services themselves, in-process tests), never handed to a customer."""

    async def mint() -> IssuedToken:
        return config.issue(subject, role)

    return TokenAuth(mint)


def service_auth(config: AuthConfig, service: str = "shop") -> TokenAuth:
    """The service credential: what the order saga may do (payments, reservations)."""
    return minted_auth(config, service, Role.SERVICE)


def staff_auth(users: httpx.AsyncClient, config: AuthConfig) -> TokenAuth:
    """Logs in as the bootstrap staff account ``config`` names."""
    if not config.staff_email or not config.staff_password:
        raise ConfigurationError(
            f"no staff account to act as: set {STAFF_EMAIL_VARIABLE} and "
            f"{STAFF_PASSWORD_VARIABLE} (`tidings up` writes them into its env file, "
            "read it with `tidings --env-file .tidings/runtime.env ...`)"
        )
    return password_auth(users, config.staff_email, config.staff_password)


def operator_auth(config: AuthConfig | None) -> httpx.Auth | None:
    """The operator token when one is configured, else a service token (for reports
    that staff and services may also read), else nothing."""
    if config is None:
        return None
    if config.operator_token:
        return BearerAuth(config.operator_token)
    return service_auth(config, "operator")


def client_config() -> AuthConfig | None:
    """The shop's auth settings for a client: the environment first, then the runtime
    env file that ``tidings up`` wrote (``TIDINGS_ENV_FILE``)."""
    found = AuthConfig.from_env()
    if found is not None:
        return found
    from tidings.provisioning import read_env_file
    from tidings.settings import load_settings

    return AuthConfig.from_env(read_env_file(load_settings().env_file))


@dataclass(frozen=True)
class Customer:
    user_id: str
    email: str
    auth: TokenAuth


async def new_customer(
    users: httpx.AsyncClient,
    email: str,
    name: str,
    password: str | None = None,
    **profile: Any,
) -> Customer:
    """Register a customer through ``users`` and return how to act as them."""
    password = password or secrets.token_urlsafe(16)
    body = {"email": email, "name": name, "password": password, **profile}
    response = await users.post("/users", json=body)
    if response.status_code != 201:
        raise RuntimeError(f"registering {email} failed: {response.text}")
    user_id: str = response.json()["id"]
    return Customer(user_id=user_id, email=email, auth=password_auth(users, email, password))
