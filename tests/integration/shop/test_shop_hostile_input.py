"""Hostile requests against every endpoint of every shop service, over real HTTP.

NUL characters in text (path, query and body), integers past a column's range or a
business bound, overlong strings, bodies that are not JSON, unknown ids and stale
versions. Each service runs on its own backend (PostgreSQL is where NUL and BIGINT
bite). None may answer 500; each 422 names the field; refusals carry no database
URL or driver message; and the next request on the same connection still works.

Requests act as the role their route admits (:data:`USUAL_CALLERS`), so they reach
the validation they probe; some act as a customer, and the credential cases send
no token, garbage, oversized or foreign tokens, or the wrong role (401 or 403). The
login takes NUL characters, wrong types and oversized passwords (422) and wrong
passwords (401).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from dataclasses import field as default
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from shop_edge_rig import SERVICE_BACKENDS, bearer, builder, served

from shop.common.auth import ISSUER, AuthConfig, Role
from shop.common.http import create_service_app
from shop.users.schemas import PASSWORD_MAX, PASSWORD_MIN
from tidings.storage.database import Database

HUGE = 10**30
BIGINT_PAST = 2**63
INT_PAST = 2**31
INT_MAX = 2**31 - 1
"""In range for an INTEGER column, but a version there leaves no room for the next."""
NUL = "\x00"


@dataclass(frozen=True)
class Hostile:
    """One hostile request and the refusal it must get (``named``: the field a 422 names)."""

    method: str
    path: str
    status: int
    named: str | None = None
    json: Any = None
    params: dict[str, Any] = default(default_factory=dict)
    content: bytes | None = None
    headers: dict[str, str | bytes] | None = None
    """Sent instead of the usual caller's token (None: the usual caller's)."""

    def describe(self) -> str:
        return f"{self.method} {self.path} {self.params or ''} {self.json!r:.80}"


def text_fields(method: str, path: str, body: dict[str, Any], names: list[str]) -> list[Hostile]:
    """For each of ``names``: the body with a NUL inside that field, then with it 20,000
    characters long (past every text column the shop has)."""
    cases = []
    for name in names:
        cases.append(Hostile(method, path, 422, name, json={**body, name: f"a{NUL}b"}))
        cases.append(Hostile(method, path, 422, name, json={**body, name: "x" * 20_000}))
    return cases


PAST_BIGINT = (HUGE, BIGINT_PAST, -BIGINT_PAST)
PAST_VERSION = (*PAST_BIGINT, INT_PAST, INT_MAX)


def integers(
    method: str,
    path: str,
    body: dict[str, Any],
    names: list[str],
    values: tuple[int, ...] = PAST_BIGINT,
) -> list[Hostile]:
    """For each of ``names``: values past INTEGER, BIGINT and any sane bound."""
    return [
        Hostile(method, path, 422, name, json={**body, name: value})
        for name in names
        for value in values
    ]


def paging(path: str) -> list[Hostile]:
    return [
        Hostile("GET", path, 422, "offset", params={"offset": HUGE}),
        Hostile("GET", path, 422, "offset", params={"offset": BIGINT_PAST}),
        Hostile("GET", path, 422, "offset", params={"offset": -1}),
        Hostile("GET", path, 422, "limit", params={"limit": HUGE}),
    ]


def ids(path_template: str, name: str, method: str = "GET", **extra: Any) -> list[Hostile]:
    """An id in the path with a NUL, too long, and unknown (404)."""
    return [
        Hostile(method, path_template.format("a%00b"), 422, name, **extra),
        Hostile(method, path_template.format("x" * 37), 422, name, **extra),
    ]


NOT_JSON = b"\xff{not json"


def token_with(auth: AuthConfig, **claims: Any) -> str:
    """A token signed with the shop's own secret whose claims are ``claims``
    over a valid staff token's."""
    now = int(time.time())
    valid = {"sub": "edge", "role": "staff", "iss": ISSUER, "iat": now, "exp": now + 600}
    return jwt.encode({**valid, **claims}, auth.secret, algorithm="HS256")


def unsigned(claims: dict[str, Any]) -> str:
    """A token that claims ``alg: none``: signed by nobody."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def credential_cases(method: str, path: str, auth: AuthConfig, **extra: Any) -> list[Hostile]:
    """Credentials a guarded route refuses: 401 for none, garbage, an oversized or
    undecodable token, another scheme, another shop's, an expired or tampered one;
    403 for a valid customer's token on a route that is not for customers."""
    now = int(time.time())
    refused: list[dict[str, str | bytes]] = [
        {},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer " + "x" * 8_000},
        {"Authorization": "Bearer " + "a.b.c" * 1_500},
        # Not UTF-8 (h11 itself refuses to send a NUL in a header).
        {"Authorization": b"Bearer \xff\xfe\x80.\xc3(.\x7f"},
        {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
        bearer(AuthConfig.ephemeral(), Role.STAFF),  # another shop's secret
        {"Authorization": f"Bearer {token_with(auth, exp=now - 60)}"},
        {"Authorization": f"Bearer {token_with(auth, role='admin')}"},
        {"Authorization": f"Bearer {token_with(auth, role=['staff'])}"},
        {"Authorization": f"Bearer {token_with(auth, iss='elsewhere')}"},
        {"Authorization": f"Bearer {token_with(auth, exp='tomorrow')}"},
        {"Authorization": f"Bearer {unsigned({'sub': 'edge', 'role': 'staff'})}"},
    ]
    return [
        *(Hostile(method, path, 401, headers=headers, **extra) for headers in refused),
        Hostile(method, path, 403, headers=bearer(auth, Role.CUSTOMER), **extra),
    ]


def registration_cases(new: dict[str, Any]) -> list[Hostile]:
    """A password too short, too long, with a NUL, not a string, or missing."""
    other = {**new, "email": "pat@example.com"}
    return [
        Hostile(
            "POST", "/users", 422, "password", json={**other, "password": "x" * (PASSWORD_MIN - 1)}
        ),
        Hostile(
            "POST", "/users", 422, "password", json={**other, "password": "x" * (PASSWORD_MAX + 1)}
        ),
        Hostile(
            "POST", "/users", 422, "password", json={**other, "password": f"correct{NUL}horse"}
        ),
        Hostile("POST", "/users", 422, "password", json={**other, "password": 12345678}),
        Hostile("POST", "/users", 422, "password", json={**other, "password": None}),
        Hostile(
            "POST",
            "/users",
            422,
            "password",
            json={k: v for k, v in other.items() if k != "password"},
        ),
    ]


def login_cases(new: dict[str, Any]) -> list[Hostile]:
    """Logging in: NUL, wrong types, oversized fields and unknown fields are 422
    naming the field; a wrong password or unknown email 401, never 500."""
    login = {"email": new["email"], "password": new["password"]}
    path = "/auth/token"
    return [
        Hostile("POST", path, 200, json=login),
        Hostile("POST", path, 401, json={**login, "password": "wrong horse"}),
        Hostile("POST", path, 401, json={**login, "email": "nobody@example.com"}),
        Hostile("POST", path, 422, "email", json={**login, "email": f"ada{NUL}@example.com"}),
        Hostile("POST", path, 422, "password", json={**login, "password": f"correct{NUL}horse"}),
        Hostile("POST", path, 422, "email", json={**login, "email": 5}),
        Hostile("POST", path, 422, "email", json={**login, "email": ["ada@example.com"]}),
        Hostile("POST", path, 422, "password", json={**login, "password": None}),
        Hostile("POST", path, 422, "password", json={**login, "password": {"$ne": ""}}),
        Hostile("POST", path, 422, "password", json={**login, "password": True}),
        Hostile("POST", path, 422, "email", json={**login, "email": "a" * 321}),
        Hostile(
            "POST", path, 422, "password", json={**login, "password": "x" * (PASSWORD_MAX + 1)}
        ),
        Hostile("POST", path, 422, "password", json={"email": new["email"]}),
        Hostile("POST", path, 422, "role", json={**login, "role": "staff"}),
        Hostile("POST", path, 422, "body", json=[login]),
        Hostile("POST", path, 422, "body", content=NOT_JSON),
        # An unreadable credential on an open route is not looked at.
        Hostile("POST", path, 200, json=login, headers={"Authorization": "Bearer garbage"}),
    ]


def users_cases(client: httpx.Client, auth: AuthConfig) -> list[Hostile]:
    new = {"email": "ada@example.com", "name": "Ada", "password": "correct horse"}
    user = client.post("/users", json=new).json()
    staff = bearer(auth, Role.STAFF)
    changed = client.patch(f"/users/{user['id']}", json={"version": 1, "name": "B"}, headers=staff)
    assert changed.status_code == 200
    one = f"/users/{user['id']}"
    ada = bearer(auth, Role.CUSTOMER, user["id"])
    return [
        *registration_cases(new),
        *login_cases(new),
        *credential_cases("GET", "/users", auth),
        # A customer's own account validates like staff's; another's is refused first.
        Hostile("PATCH", one, 422, "name", json={"version": 2, "name": NUL}, headers=ada),
        Hostile("GET", "/users/someone-else", 403, headers=ada),
        Hostile("DELETE", "/users/someone-else", 403, params={"version": 1}, headers=ada),
        *text_fields("POST", "/users", {**new, "email": "b@example.com"}, ["name", "address"]),
        Hostile("POST", "/users", 422, "email", json={**new, "email": f"a{NUL}@example.com"}),
        Hostile("POST", "/users", 409, json=new),  # a duplicate e-mail
        Hostile("POST", "/users", 422, "body", content=NOT_JSON),
        # A lone surrogate is valid JSON but no UTF-8 text a database can store.
        Hostile(
            "POST",
            "/users",
            422,
            "name",
            content=b'{"email": "c@example.com", "name": "\\ud800", "password": "12345678"}',
        ),
        *paging("/users"),
        *ids("/users/{}", "user_id"),
        Hostile("GET", "/users/no-such-user", 404),
        *text_fields("PATCH", one, {"version": 2}, ["name", "address"]),
        *integers("PATCH", one, {"name": "C"}, ["version"], PAST_VERSION),
        Hostile("PATCH", one, 409, json={"version": 1, "name": "stale"}),
        *ids("/users/{}", "user_id", "PATCH", json={"version": 1}),
        Hostile("DELETE", one, 422, "version", params={"version": HUGE}),
        Hostile("DELETE", one, 409, params={"version": 1}),
        *ids("/users/{}", "user_id", "DELETE", params={"version": 1}),
    ]


def catalog_cases(client: httpx.Client, auth: AuthConfig) -> list[Hostile]:
    new = {"sku": "MUG-1", "name": "Mug", "price_cents": 900}
    product = client.post("/products", json=new, headers=bearer(auth, Role.STAFF)).json()
    one = f"/products/{product['id']}"
    other = {**new, "sku": "MUG-2"}
    return [
        *credential_cases("DELETE", one, auth, params={"version": 1}),
        # The guard answers before the body is read: its faults are not revealed.
        Hostile("POST", "/products", 401, json={**other, "name": NUL}, headers={}),
        Hostile(
            "POST",
            "/products",
            403,
            json={**other, "name": NUL},
            headers=bearer(auth, Role.CUSTOMER),
        ),
        *text_fields("POST", "/products", other, ["sku", "name", "description"]),
        *integers("POST", "/products", other, ["price_cents"]),
        Hostile("POST", "/products", 422, "currency", json={**other, "currency": f"E{NUL}R"}),
        Hostile("POST", "/products", 409, json=new),  # a taken SKU
        Hostile("POST", "/products", 422, "body", content=NOT_JSON),
        *paging("/products"),
        *ids("/products/{}", "product_id"),
        Hostile("GET", "/products/no-such-product", 404),
        *text_fields("PATCH", one, {"version": 1}, ["name", "description"]),
        *integers("PATCH", one, {"version": 1}, ["price_cents"]),
        *integers("PATCH", one, {"name": "Cup"}, ["version"], PAST_VERSION),
        Hostile("PATCH", one, 409, json={"version": 7, "name": "stale"}),
        Hostile("DELETE", one, 422, "version", params={"version": INT_PAST}),
        Hostile("DELETE", one, 409, params={"version": 7}),
        *ids("/products/{}", "product_id", "DELETE", params={"version": 1}),
    ]


def inventory_cases(client: httpx.Client, auth: AuthConfig) -> list[Hostile]:
    counted = client.post(
        "/stock/p-1/adjustments",
        json={"delta": 5, "reason": "counted"},
        headers=bearer(auth, Role.STAFF),
    )
    assert counted.status_code == 200
    adjust = "/stock/p-1/adjustments"
    reserve = {"order_id": "o-1", "lines": [{"product_id": "p-1", "quantity": 1}]}
    line = reserve["lines"][0]
    return [
        *credential_cases("GET", "/reservations/o-1", auth),
        *ids("/stock/{}", "product_id"),
        *integers("POST", adjust, {"reason": "r"}, ["delta"]),
        *integers("POST", adjust, {"delta": 1, "reason": "r"}, ["expected_version"], PAST_VERSION),
        Hostile("POST", adjust, 422, "delta", json={"delta": 0, "reason": "nothing"}),
        *text_fields("POST", adjust, {"delta": 1}, ["reason"]),
        Hostile("POST", adjust, 409, json={"delta": -6, "reason": "more than is there"}),
        Hostile("POST", adjust, 409, json={"delta": 1, "reason": "r", "expected_version": 9}),
        *ids("/stock/{}/adjustments", "product_id", "POST", json={"delta": 1, "reason": "r"}),
        Hostile("POST", adjust, 422, "body", content=NOT_JSON),
        *text_fields("POST", "/reservations", reserve, ["order_id"]),
        Hostile(
            "POST",
            "/reservations",
            422,
            "product_id",
            json={**reserve, "lines": [{**line, "product_id": f"p{NUL}"}]},
        ),
        *(
            Hostile(
                "POST",
                "/reservations",
                422,
                "quantity",
                json={**reserve, "lines": [{**line, "quantity": value}]},
            )
            for value in (HUGE, BIGINT_PAST, INT_PAST, 0)
        ),
        Hostile("POST", "/reservations", 422, "lines", json={**reserve, "lines": [line] * 101}),
        Hostile(
            "POST",
            "/reservations",
            409,
            json={**reserve, "lines": [{**line, "quantity": 6}]},
        ),
        *ids("/reservations/{}", "order_id"),
        Hostile("GET", "/reservations/no-such-order", 404),
        *ids("/reservations/{}", "order_id", "DELETE"),
        Hostile("DELETE", "/reservations/no-such-order", 404),
    ]


def orders_cases(_client: httpx.Client, auth: AuthConfig) -> list[Hostile]:
    new = {"user_id": "u-1", "lines": [{"product_id": "p-1", "quantity": 1}]}
    line = new["lines"][0]
    ada = bearer(auth, Role.CUSTOMER, "u-ada")
    own = {"lines": [line]}
    return [
        *credential_cases("GET", "/replicas/prices/p-1", auth),
        # A customer's order is checked like staff's, and names no one else.
        Hostile(
            "POST",
            "/orders",
            422,
            "payment_method",
            json={**own, "payment_method": NUL},
            headers=ada,
        ),
        Hostile(
            "POST",
            "/orders",
            422,
            "quantity",
            json={"lines": [{**line, "quantity": HUGE}]},
            headers=ada,
        ),
        Hostile("POST", "/orders", 422, "user_id", json={**own, "user_id": "x" * 37}, headers=ada),
        Hostile("POST", "/orders", 403, json={**own, "user_id": "u-eve"}, headers=ada),
        Hostile("POST", "/orders", 403, json=new, headers=bearer(auth, Role.SERVICE)),
        Hostile("GET", "/orders", 403, params={"user_id": "u-eve"}, headers=ada),
        Hostile("GET", "/orders", 422, "offset", params={"offset": HUGE}, headers=ada),
        Hostile("GET", "/customers/u-eve/orders", 403, headers=ada),
        Hostile("GET", "/orders/a%00b", 422, "order_id", headers=ada),
        *text_fields("POST", "/orders", new, ["user_id", "payment_method"]),
        Hostile(
            "POST",
            "/orders",
            422,
            "product_id",
            json={**new, "lines": [{**line, "product_id": NUL}]},
        ),
        *(
            Hostile(
                "POST", "/orders", 422, "quantity", json={**new, "lines": [{**line, "quantity": v}]}
            )
            for v in (HUGE, BIGINT_PAST, INT_PAST, 0)
        ),
        Hostile("POST", "/orders", 422, "lines", json={**new, "lines": []}),
        Hostile("POST", "/orders", 422, "lines", json={**new, "lines": [line] * 101}),
        Hostile("POST", "/orders", 422, "user_id", json=new),  # nobody orders replicates as u-1
        Hostile("POST", "/orders", 422, "body", content=NOT_JSON),
        *paging("/orders"),
        Hostile("GET", "/orders", 422, "user_id", params={"user_id": f"u{NUL}"}),
        Hostile("GET", "/orders", 422, "status", params={"status": "lost"}),
        *ids("/orders/{}", "order_id"),
        Hostile("GET", "/orders/no-such-order", 404),
        *ids("/orders/{}/cancel", "order_id", "POST", json={"version": 1}),
        Hostile("POST", "/orders/no-such-order/cancel", 404, json={"version": 1}),
        *integers("POST", "/orders/o-1/cancel", {}, ["version"], PAST_VERSION),
        *text_fields("POST", "/orders/o-1/cancel", {"version": 1}, ["reason"]),
        *ids("/replicas/customers/{}", "user_id"),
        Hostile("GET", "/replicas/customers/u-1", 404),
        *ids("/replicas/prices/{}", "product_id"),
        Hostile("GET", "/replicas/prices/p-1", 404),
        *ids("/customers/{}/orders", "user_id"),
    ]


def payments_cases(client: httpx.Client, auth: AuthConfig) -> list[Hostile]:
    new = {"order_id": "o-1", "amount_cents": 500}
    payment = client.post("/payments", json=new, headers=bearer(auth, Role.SERVICE)).json()
    refund = f"/payments/{payment['id']}/refund"
    other = {**new, "order_id": "o-2"}
    return [
        *credential_cases("GET", "/payments", auth),
        *text_fields("POST", "/payments", other, ["order_id", "method"]),
        *integers("POST", "/payments", other, ["amount_cents"]),
        Hostile("POST", "/payments", 422, "amount_cents", json={**other, "amount_cents": 0}),
        Hostile("POST", "/payments", 422, "currency", json={**other, "currency": f"E{NUL}R"}),
        Hostile("POST", "/payments", 422, "body", content=NOT_JSON),
        *paging("/payments"),
        Hostile("GET", "/payments", 422, "order_id", params={"order_id": f"o{NUL}"}),
        *ids("/payments/{}", "payment_id"),
        Hostile("GET", "/payments/no-such-payment", 404),
        *integers("POST", refund, {}, ["version"], PAST_VERSION),
        *text_fields("POST", refund, {"version": 1}, ["reason"]),
        Hostile("POST", refund, 409, json={"version": 9}),
        *ids("/payments/{}/refund", "payment_id", "POST", json={"version": 1}),
        Hostile("GET", "/ledger", 422, "order_id", params={"order_id": "x" * 37}),
        Hostile("GET", "/ledger", 422, "order_id", params={"order_id": NUL}),
    ]


def notifications_cases(_client: httpx.Client, auth: AuthConfig) -> list[Hostile]:
    new = {"idempotency_key": "k-1", "recipient": "ada@example.com", "subject": "Hi"}
    return [
        *credential_cases("GET", "/notifications", auth),
        *text_fields(
            "POST", "/notifications", new, ["idempotency_key", "recipient", "subject", "body"]
        ),
        Hostile("POST", "/notifications", 422, "channel", json={**new, "channel": "fax"}),
        Hostile("POST", "/notifications", 422, "body", content=NOT_JSON),
        *paging("/notifications"),
        Hostile("GET", "/notifications", 422, "recipient", params={"recipient": f"a{NUL}"}),
        *ids("/notifications/{}", "notification_id"),
        Hostile("GET", "/notifications/no-such-notification", 404),
    ]


def search_cases(_client: httpx.Client, _auth: AuthConfig) -> list[Hostile]:
    return [
        Hostile("GET", "/search", 422, "q", params={"q": f"a{NUL}b"}),
        Hostile("GET", "/search", 422, "q", params={"q": "x" * 201}),
        Hostile("GET", "/search", 422, "q"),
        Hostile("GET", "/search", 422, "limit", params={"q": "mug", "limit": HUGE}),
        *ids("/documents/{}", "product_id"),
        Hostile("GET", "/documents/no-such-product", 404),
    ]


def analytics_cases(_client: httpx.Client, auth: AuthConfig) -> list[Hostile]:
    # Its routes take no input: whatever rides along is ignored.
    return [
        *credential_cases("GET", "/sales/totals", auth),
        Hostile("GET", "/sales/totals", 200, params={"x": NUL}),
        Hostile("GET", "/sales/by-product", 200, params={"offset": HUGE}),
    ]


CASES: dict[str, Callable[[httpx.Client, AuthConfig], list[Hostile]]] = {
    "users": users_cases,
    "catalog": catalog_cases,
    "inventory": inventory_cases,
    "orders": orders_cases,
    "payments": payments_cases,
    "notifications": notifications_cases,
    "search": search_cases,
    "analytics": analytics_cases,
}

USUAL_CALLERS: dict[str, dict[str, Role]] = {
    "users": {"/": Role.STAFF},
    "catalog": {"/": Role.STAFF},
    "inventory": {"/": Role.STAFF, "/reservations": Role.SERVICE},
    "orders": {"/": Role.STAFF},
    "payments": {"/": Role.SERVICE},
    "notifications": {"/": Role.SERVICE},
    "search": {},
    "analytics": {"/": Role.STAFF},
}
"""Per service and path prefix (the longest that matches): the role a request acts
as unless its case says otherwise, one its route admits."""


def usual_headers(service: str, path: str, auth: AuthConfig) -> dict[str, str]:
    prefixes = [prefix for prefix in USUAL_CALLERS[service] if path.startswith(prefix)]
    if not prefixes:
        return {}
    return bearer(auth, USUAL_CALLERS[service][max(prefixes, key=len)])


LEAKS = ("postgresql", "mysql", "sqlite", "asyncpg", "tidings_", "duplicate key", "Traceback")


def problems_with(case: Hostile, response: httpx.Response) -> list[str]:
    """What is wrong with ``response`` as the answer to ``case`` (nothing: [])."""
    found = []
    if response.status_code != case.status:
        found.append(
            f"answered {response.status_code}, expected {case.status}: {response.text:.300}"
        )
    if case.status == 422 and case.named is not None and response.status_code == 422:
        locations = [error["loc"] for error in response.json()["detail"]]
        if not any(case.named in location for location in locations):
            found.append(f"the 422 does not name {case.named!r}: {locations}")
    if (
        response.status_code == 401
        and "bearer" not in response.headers.get("www-authenticate", "").lower()
    ):
        found.append("the 401 does not say how to authenticate (WWW-Authenticate)")
    if response.status_code in (401, 403) and not response.json().get("request_id"):
        found.append(f"the {response.status_code} carries no request id")
    leaked = [marker for marker in LEAKS if marker in response.text]
    if leaked:
        found.append(f"the body gives away {leaked}: {response.text:.300}")
    return found


def client_address(response: httpx.Response) -> object:
    return response.extensions["network_stream"].get_extra_info("client_addr")


def service_param(service: str) -> object:
    backend = SERVICE_BACKENDS[service]
    marks = [] if backend == "sqlite" else [getattr(pytest.mark, backend)]
    return pytest.param(service, id=f"{service}-{backend}", marks=marks)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("service", [service_param(name) for name in CASES])
def test_hostile_requests_are_refused_by_name_and_the_connection_lives(
    service: str, tmp_path: Path
) -> None:
    problems: list[str] = []
    auth = AuthConfig.ephemeral()
    with served(builder(service, auth), tmp_path) as base_url:
        # One connection for the whole run: every request after a refusal reuses it.
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=base_url, limits=limits, timeout=30) as client:
            cases = CASES[service](client, auth)
            address = client_address(client.get("/health/live"))
            for case in cases:
                headers: dict[str, str | bytes] = {
                    **(
                        usual_headers(service, case.path, auth)
                        if case.headers is None
                        else case.headers
                    ),
                    **({"content-type": "application/json"} if case.content else {}),
                }
                response = client.request(
                    case.method,
                    case.path,
                    params=case.params,
                    json=case.json,
                    content=case.content,
                    headers=headers,
                )
                problems += [f"{case.describe()}: {p}" for p in problems_with(case, response)]
                after = client.get("/health/live")
                if after.status_code != 200 or client_address(after) != address:
                    problems.append(f"{case.describe()}: the connection did not survive")
                    address = client_address(after)
    assert len(cases) >= 7
    assert problems == [], "\n".join(problems)


def test_an_unexpected_error_answers_500_with_an_id_and_the_connection_lives(
    tmp_path: Path,
) -> None:
    secret = "postgresql://shop:hunter2@db.internal/orders"

    async def build(_stack: AsyncExitStack, folder: Path) -> FastAPI:
        database = Database("crashy", f"sqlite+aiosqlite:///{folder}/crashy.db")
        app = create_service_app(service="crashy", database=database)

        @app.get("/crash")
        async def crash() -> None:
            raise RuntimeError(f"lost the connection to {secret}")

        return app

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with (
        served(build, tmp_path) as base_url,
        httpx.Client(base_url=base_url, limits=limits, timeout=30) as client,
    ):
        crashed = client.get("/crash", headers={"X-Request-ID": "trace-42"})
        crashed_on = client_address(crashed)
        after = client.get("/health/live")
        after_on = client_address(after)
    assert crashed.status_code == 500
    assert crashed.json()["request_id"] == "trace-42"
    assert crashed.headers["x-request-id"] == "trace-42"
    assert "hunter2" not in crashed.text
    assert "RuntimeError" not in crashed.text
    assert after.status_code == 200
    assert after_on == crashed_on, "the 500 cost the connection: a second one was opened"
