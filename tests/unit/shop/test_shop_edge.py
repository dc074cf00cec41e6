"""The shop's edge: constrained input types, declared responses, refusals that give
nothing away (in-process; the real-socket runs are in tests/integration/shop)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from shop.analytics.api import create_app as analytics_app
from shop.analytics.facts import ChdbFactStore
from shop.catalog.api import create_app as catalog_app
from shop.common.auth import Role
from shop.common.validation import (
    MAX_MONEY_CENTS,
    MAX_ORDER_LINES,
    MAX_QUANTITY,
    Money,
    Quantity,
    Text,
    Version,
)
from shop.inventory.api import create_app as inventory_app
from shop.notifications.api import create_app as notifications_app
from shop.orders.api import create_app as orders_app
from shop.payments.api import create_app as payments_app
from shop.search.api import create_app as search_app
from shop.testing import http_client, migrate
from shop.users.api import create_app as users_app
from tidings.storage.database import Database

BIGINT_MAX = 2**63 - 1


class Sample(BaseModel):
    name: Annotated[str, Text(5, min_length=1)]
    code: Annotated[str, Text(3, pattern=r"^[A-Z]{3}$")] = "EUR"
    note: Annotated[str, Text(10)] | None = None
    version: Version = 1
    quantity: Quantity = 1
    price: Money = 0


def refusal(**values: Any) -> tuple[str, str]:
    """The field and message of the one error validating ``values`` raises."""
    with pytest.raises(ValidationError) as raised:
        Sample.model_validate({"name": "ok", **values})
    (error,) = raised.value.errors()
    return str(error["loc"][0]), error["msg"]


def test_text_refuses_nul_and_keeps_its_lengths_and_pattern() -> None:
    assert refusal(name="a\x00b") == (
        "name",
        "Value error, must not contain the NUL character (\\u0000)",
    )
    assert refusal(note="\x00")[0] == "note"
    assert refusal(name="")[0] == "name"
    assert refusal(name="x" * 6)[0] == "name"
    assert refusal(code="eur")[0] == "code"
    assert Sample(name="Ada", note=None).note is None
    schema = Sample.model_json_schema()["properties"]
    assert schema["name"] == {"maxLength": 5, "minLength": 1, "title": "Name", "type": "string"}
    assert schema["code"]["pattern"] == "^[A-Z]{3}$"


def test_integers_stay_inside_their_columns_and_bounds() -> None:
    assert refusal(version=2**31)[0] == "version"
    # A change writes version + 1, which must fit the column too.
    assert refusal(version=2**31 - 1)[0] == "version"
    assert Sample(name="a", version=2**31 - 2).version == 2**31 - 2
    assert refusal(version=0)[0] == "version"
    assert refusal(quantity=MAX_QUANTITY + 1)[0] == "quantity"
    assert refusal(price=MAX_MONEY_CENTS + 1)[0] == "price"
    assert refusal(price=-1)[0] == "price"
    # The largest order the bounds allow still totals inside a BIGINT column.
    assert MAX_ORDER_LINES * MAX_QUANTITY * MAX_MONEY_CENTS < BIGINT_MAX


def all_apps(tmp_path: Path) -> dict[str, FastAPI]:
    """Every service's app on a database it never opens (only documents are read)."""
    database = Database("docs", f"sqlite+aiosqlite:///{tmp_path}/never-opened.db")
    return {
        "users": users_app(database),
        "catalog": catalog_app(database),
        "inventory": inventory_app(database),
        "orders": orders_app(database),
        "payments": payments_app(database),
        "notifications": notifications_app(database),
        "search": search_app(database),
        "analytics": analytics_app(database, ChdbFactStore(tmp_path / "chdb")),
    }


ANSWERED_FOR_ANY_ID = {
    "/stock/{product_id}",  # 0 on hand for a product never counted
    "/stock/{product_id}/adjustments",  # the first count creates the stock
    "/customers/{user_id}/orders",  # an empty history
}
"""Routes with an id in the path that never answer 404."""


NEVER_CONFLICTS = {"/reservations/{order_id}", "/auth/token"}
"""Routes that take input and change nothing a client could have read stale."""


def test_every_operation_declares_what_it_can_answer_with_a_body(tmp_path: Path) -> None:
    missing = []
    for service, app in all_apps(tmp_path).items():
        for path, operations in app.openapi()["paths"].items():
            for method, operation in operations.items():
                responses = operation["responses"]
                takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
                expected = {"500", "503"} | ({"422"} if takes_input else set())
                if "{" in path and path not in ANSWERED_FOR_ANY_ID:
                    expected.add("404")
                if method in {"post", "patch", "delete"} and takes_input:
                    expected.add("409")
                if path.startswith("/health") or path in NEVER_CONFLICTS:
                    expected.discard("409")
                for status in sorted(expected):
                    if status not in responses:
                        missing.append(f"{service} {method.upper()} {path}: {status}")
                    elif "content" not in responses[status]:
                        missing.append(f"{service} {method.upper()} {path}: {status} has no body")
    assert missing == []


def test_every_guarded_operation_declares_401_and_403(tmp_path: Path) -> None:
    """A route that reads a bearer token can answer 401; one behind a role guard
    (``dependencies=[STAFF]`` and the like) can also answer 403."""
    missing = []
    guarded = 0
    for service, app in all_apps(tmp_path).items():
        document = app.openapi()["paths"]
        for route in app.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            for method in route.methods:
                operation = document[route.path][method.lower()]
                expected = set()
                if "security" in operation:
                    expected.add("401")
                if route.dependencies:
                    expected |= {"401", "403"}
                    guarded += 1
                for status in sorted(expected - set(operation["responses"])):
                    missing.append(f"{service} {method} {route.path}: {status}")
    assert guarded >= 20  # the guards are there to be declared
    assert missing == []


def test_every_text_and_integer_input_is_bounded(tmp_path: Path) -> None:
    """No text input without a maxLength, no integer without both bounds: the
    document says what the database can store, and the service enforces it."""
    unbounded = []

    def visit(where: str, schema: dict[str, Any], components: dict[str, Any]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            visit(where, components[name], components)
            return
        for key in ("anyOf", "allOf", "oneOf"):
            for part in schema.get(key, []):
                visit(where, part, components)
        if schema.get("type") == "string" and "maxLength" not in schema and "enum" not in schema:
            unbounded.append(where)
        if schema.get("type") == "integer" and not {"minimum", "maximum"} <= set(schema):
            unbounded.append(where)
        for name, child in schema.get("properties", {}).items():
            visit(f"{where}.{name}", child, components)
        if "items" in schema:
            visit(f"{where}[]", schema["items"], components)

    for service, app in all_apps(tmp_path).items():
        document = app.openapi()
        components = document.get("components", {}).get("schemas", {})
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                where = f"{service} {method.upper()} {path}"
                for parameter in operation.get("parameters", []):
                    visit(f"{where} {parameter['name']}", parameter["schema"], components)
                body = operation.get("requestBody", {}).get("content", {})
                for media in body.values():
                    visit(f"{where} body", media["schema"], components)
    assert unbounded == []


async def test_a_duplicate_answers_409_without_database_details(make_database) -> None:
    database = await migrate(await make_database("sqlite", service="users"), "users")
    async with http_client(users_app(database)) as client:
        user = {"email": "ada@example.com", "name": "Ada", "password": "correct horse"}
        assert (await client.post("/users", json=user)).status_code == 201
        duplicate = await client.post("/users", json=user)
    assert duplicate.status_code == 409
    body = duplicate.json()
    assert body["request_id"] == duplicate.headers["x-request-id"]
    assert body["detail"] == "conflicts with a record that already exists"
    for leak in ("sqlite", "UNIQUE", ".db", "users.email"):
        assert leak not in duplicate.text


async def test_an_unreachable_database_answers_503_without_its_url(tmp_path: Path) -> None:
    hidden = tmp_path / "no" / "such" / "dir"
    database = Database("users", f"sqlite+aiosqlite:///{hidden}/users.db")
    async with http_client(users_app(database), Role.STAFF) as client:
        listed = await client.get("/users")
        ready = await client.get("/health/ready")
    await database.close()
    assert listed.status_code == 503
    assert listed.json()["request_id"]
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("failed")
    for response in (listed, ready):
        assert str(hidden) not in response.text
        assert "sqlite" not in response.text


async def test_a_body_that_is_not_json_is_a_422_naming_the_body(tmp_path: Path) -> None:
    database = Database("users", f"sqlite+aiosqlite:///{tmp_path}/never-opened.db")
    async with http_client(users_app(database)) as client:
        for content in (b"\xff\xfe{", b"{not json"):
            refused = await client.post(
                "/users", content=content, headers={"content-type": "application/json"}
            )
            assert refused.status_code == 422
            assert refused.json()["detail"][0]["loc"][0] == "body"
