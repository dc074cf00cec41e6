"""Who may call the shop: signed tokens for people and services, a token for operators.

A caller presents ``Authorization: Bearer <token>``. Three roles travel in tokens:

- ``customer``: a registered user; acts on their own orders and profile only.
- ``staff``: manages the catalog, stock, users and every order.
- ``service``: a machine credential for the operations only the order saga should
  drive (taking a payment, holding or releasing a reservation, sending a notification).

Tokens are JWTs (HS256) signed with ``SHOP_AUTH_SECRET``; every service holds the same
secret, so any of them verifies a token the users service issued, and nothing else
(no database, no call to users) is needed to check one. The operator token
(``SHOP_OPERATOR_TOKEN``) is an opaque shared value, not a JWT: it opens ``/metrics``,
``/sagas`` and analytics' reports to monitoring and to ``tidings consistency check``.

``SHOP_STAFF_EMAIL`` and ``SHOP_STAFF_PASSWORD`` name the bootstrap staff account the
users service keeps in place when it starts. ``tidings up`` generates all four into
its runtime env file (:func:`generated_env`).
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import jwt

SECRET_VARIABLE = "SHOP_AUTH_SECRET"
OPERATOR_VARIABLE = "SHOP_OPERATOR_TOKEN"
STAFF_EMAIL_VARIABLE = "SHOP_STAFF_EMAIL"
STAFF_PASSWORD_VARIABLE = "SHOP_STAFF_PASSWORD"
TTL_VARIABLE = "SHOP_TOKEN_TTL_SECONDS"

DEFAULT_STAFF_EMAIL = "staff@shop.example"
DEFAULT_TTL_SECONDS = 3600
MIN_SECRET_LENGTH = 32
ISSUER = "shop-users"
ALGORITHM = "HS256"


class Role(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    SERVICE = "service"


class Unauthorized(Exception):
    """The credential is missing, malformed, expired or not signed by the shop (401)."""


class Forbidden(Exception):
    """The caller is known but may not do this (403)."""


@dataclass(frozen=True)
class Principal:
    """The caller a verified token names."""

    subject: str
    """A user id for customers and staff; the service's name for a service."""
    role: Role


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    """Seconds from issue until the token is refused."""
    subject: str
    role: Role


@dataclass(frozen=True)
class AuthConfig:
    """The shop's secrets, as every service and client reads them from the environment."""

    secret: str
    operator_token: str | None = None
    staff_email: str | None = None
    staff_password: str | None = None
    token_ttl: int = DEFAULT_TTL_SECONDS

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"{SECRET_VARIABLE} must be at least {MIN_SECRET_LENGTH} characters "
                f"(it has {len(self.secret)}): a short HMAC key can be guessed offline"
            )
        if self.operator_token is not None and not self.operator_token:
            raise ValueError(f"{OPERATOR_VARIABLE} is set but empty")
        if self.token_ttl <= 0:
            raise ValueError(f"{TTL_VARIABLE} must be a positive number of seconds")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AuthConfig | None:
        """The configuration in ``environ`` (``os.environ``), None without a secret."""
        env = os.environ if environ is None else environ
        secret = env.get(SECRET_VARIABLE)
        if not secret:
            return None
        ttl = env.get(TTL_VARIABLE) or str(DEFAULT_TTL_SECONDS)
        if not ttl.isdigit():
            raise ValueError(f"{TTL_VARIABLE}={ttl!r} is not a whole number of seconds")
        return cls(
            secret=secret,
            operator_token=env.get(OPERATOR_VARIABLE) or None,
            staff_email=env.get(STAFF_EMAIL_VARIABLE) or None,
            staff_password=env.get(STAFF_PASSWORD_VARIABLE) or None,
            token_ttl=int(ttl),
        )

    @classmethod
    def ephemeral(cls, *, staff: bool = False) -> AuthConfig:
        """A fresh random secret for one process (the embedded demo, tests); with
        ``staff`` also a bootstrap staff account with a random password."""
        return cls(
            secret=secrets.token_urlsafe(48),
            staff_email=DEFAULT_STAFF_EMAIL if staff else None,
            staff_password=secrets.token_urlsafe(24) if staff else None,
        )

    def issue(self, subject: str, role: Role, *, ttl: int | None = None) -> IssuedToken:
        lifetime = self.token_ttl if ttl is None else ttl
        now = int(time.time())
        claims = {
            "sub": subject,
            "role": role.value,
            "iss": ISSUER,
            "iat": now,
            "exp": now + lifetime,
        }
        token = jwt.encode(claims, self.secret, algorithm=ALGORITHM)
        return IssuedToken(access_token=token, expires_in=lifetime, subject=subject, role=role)

    def verify(self, token: str) -> Principal:
        """The principal ``token`` names; :class:`Unauthorized` saying why it is refused."""
        try:
            # algorithms is pinned: a token cannot choose "none" or another key type.
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["sub", "role", "exp", "iat", "iss"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthorized("the token has expired: log in again") from error
        except jwt.InvalidTokenError as error:
            raise Unauthorized(f"the token is not valid: {error}") from error
        try:
            role = Role(claims["role"])
        except ValueError as error:
            raise Unauthorized(f"the token names an unknown role {claims['role']!r}") from error
        return Principal(subject=str(claims["sub"]), role=role)

    def is_operator(self, token: str) -> bool:
        """``token`` is the operator token (compared in constant time)."""
        if self.operator_token is None:
            return False
        return hmac.compare_digest(token.encode(), self.operator_token.encode())


@lru_cache(maxsize=1)
def _process_config() -> AuthConfig:
    # One per process, so every app built in it (the demo, a test) trusts the others' tokens.
    return AuthConfig.ephemeral()


def default_auth() -> AuthConfig:
    """``SHOP_AUTH_SECRET``'s configuration, else a random one shared by this process."""
    return AuthConfig.from_env() or _process_config()


def generated_env(existing: Mapping[str, str]) -> dict[str, str]:
    """The auth variables missing from ``existing``, freshly generated.

    Values already present are kept, so a restarted ``tidings up`` keeps the tokens
    it issued valid and the staff password its operators were told.
    """
    fresh: dict[str, Callable[[], str]] = {
        SECRET_VARIABLE: lambda: secrets.token_urlsafe(48),
        OPERATOR_VARIABLE: lambda: secrets.token_urlsafe(32),
        STAFF_EMAIL_VARIABLE: lambda: DEFAULT_STAFF_EMAIL,
        STAFF_PASSWORD_VARIABLE: lambda: secrets.token_urlsafe(24),
    }
    return {name: make() for name, make in fresh.items() if not existing.get(name)}
