"""The shop's secrets: tokens, the operator token, what a process needs to listen,
what ``tidings up`` generates, the bootstrap staff account and clients' token refresh."""

from __future__ import annotations

import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from shop.analytics.facts import ChdbFactStore
from shop.client import TokenAuth, password_auth
from shop.common.auth import (
    OPERATOR_VARIABLE,
    SECRET_VARIABLE,
    STAFF_EMAIL_VARIABLE,
    STAFF_PASSWORD_VARIABLE,
    AuthConfig,
    IssuedToken,
    Role,
    Unauthorized,
    generated_env,
)
from shop.common.guards import OPERATOR
from shop.common.publishing import CollectingPublisher
from shop.common.serving_auth import is_loopback, serving_auth
from shop.contracts.users import UserRegistered
from shop.orders.api import create_app as orders_app
from shop.runtime import Shop
from shop.testing import acting_as, http_client, migrate
from shop.users.api import create_app as users_app
from shop.users.credentials import Credentials
from shop.users.tables import users
from tidings.errors import ConfigurationError
from tidings.sagas.http import saga_router

SECRET = "s" * 40


def test_a_token_names_its_subject_and_role() -> None:
    config = AuthConfig(secret=SECRET)
    issued = config.issue("u-1", Role.STAFF)
    principal = config.verify(issued.access_token)
    assert (principal.subject, principal.role) == ("u-1", Role.STAFF)
    assert issued.expires_in == config.token_ttl


def test_tokens_that_are_forged_expired_unsigned_or_odd_are_refused() -> None:
    config = AuthConfig(secret=SECRET)
    other = AuthConfig(secret="o" * 40)
    claims = {"sub": "u-1", "role": "staff", "iss": "shop-users", "iat": 0, "exp": 2**40}
    refused = {
        "another secret": other.issue("u-1", Role.STAFF).access_token,
        "expired": config.issue("u-1", Role.CUSTOMER, ttl=-1).access_token,
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "unknown role": jwt.encode({**claims, "role": "admin"}, SECRET, algorithm="HS256"),
        "no expiry": jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"}, SECRET, algorithm="HS256"
        ),
        "another issuer": jwt.encode({**claims, "iss": "elsewhere"}, SECRET, algorithm="HS256"),
    }
    for why, token in refused.items():
        try:
            config.verify(token)
        except Unauthorized:
            continue
        pytest.fail(f"accepted a token with {why}")


def test_bad_configuration_names_the_variable() -> None:
    with pytest.raises(ValueError, match=SECRET_VARIABLE):
        AuthConfig(secret="short")
    with pytest.raises(ValueError, match="SHOP_TOKEN_TTL_SECONDS"):
        AuthConfig.from_env({SECRET_VARIABLE: SECRET, "SHOP_TOKEN_TTL_SECONDS": "soon"})
    assert AuthConfig.from_env({}) is None
    found = AuthConfig.from_env({SECRET_VARIABLE: SECRET, OPERATOR_VARIABLE: "op"})
    assert found is not None
    assert found.operator_token == "op"


def test_up_generates_the_missing_secrets_and_keeps_the_rest() -> None:
    fresh = generated_env({})
    assert set(fresh) == {
        SECRET_VARIABLE,
        OPERATOR_VARIABLE,
        STAFF_EMAIL_VARIABLE,
        STAFF_PASSWORD_VARIABLE,
    }
    assert AuthConfig.from_env(fresh) is not None  # long enough, well formed
    assert generated_env({})[SECRET_VARIABLE] != fresh[SECRET_VARIABLE]
    assert generated_env(fresh) == {}  # a restarted `up` keeps what it gave out
    assert set(generated_env({SECRET_VARIABLE: SECRET})) == set(fresh) - {SECRET_VARIABLE}


def test_a_process_needs_a_secret_and_beyond_loopback_an_operator_token() -> None:
    with pytest.raises(ConfigurationError, match=SECRET_VARIABLE):
        serving_auth("127.0.0.1", None)
    open_config = AuthConfig(secret=SECRET)
    assert serving_auth("127.0.0.1", open_config) is open_config
    assert serving_auth("localhost", open_config) is open_config
    for host in ("0.0.0.0", "::", "192.0.2.7"):
        with pytest.raises(ConfigurationError, match=OPERATOR_VARIABLE):
            serving_auth(host, open_config)
    guarded = AuthConfig(secret=SECRET, operator_token="op-token")
    assert serving_auth("0.0.0.0", guarded) is guarded
    assert is_loopback("::1")
    assert not is_loopback("0.0.0.0")


async def _operator_checks(app: FastAPI, path: str) -> dict[str, int]:
    async with http_client(app) as client:
        anonymous = await client.get(path)
        staff = await client.get(path, auth=acting_as(app, Role.STAFF))
        wrong = await client.get(path, headers={"Authorization": "Bearer not-it"})
        operator = await client.get(path, headers={"Authorization": "Bearer op-token"})
    return {
        "anonymous": anonymous.status_code,
        "staff": staff.status_code,
        "wrong": wrong.status_code,
        "operator": operator.status_code,
    }


async def test_operator_endpoints_take_the_operator_token_once_configured(make_database) -> None:
    database = await migrate(await make_database("sqlite", service="orders"), "orders")
    app = orders_app(database, CollectingPublisher())
    app.include_router(saga_router(database), prefix="/sagas", dependencies=[OPERATOR])
    # No operator token: open, as serve() allows only on loopback.
    async with http_client(app) as client:
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/sagas/")).status_code == 200
    app.state.auth = AuthConfig(secret=SECRET, operator_token="op-token")
    for path in ("/metrics", "/sagas/"):
        expected = {"anonymous": 401, "staff": 403, "wrong": 403, "operator": 200}
        assert await _operator_checks(app, path) == expected, path


async def test_the_shop_mounts_the_saga_router_behind_the_operator_token(
    make_database, tmp_path
) -> None:
    database = await migrate(await make_database("sqlite", service="orders"), "orders")
    auth = AuthConfig(secret=SECRET, operator_token="op-token")
    shop = Shop({"orders": database}, ChdbFactStore(tmp_path / "chdb"), auth=auth)
    try:
        assert shop.apps["orders"].state.auth is auth
        checks = await _operator_checks(shop.apps["orders"], "/sagas/")
        assert checks == {"anonymous": 401, "staff": 403, "wrong": 403, "operator": 200}
    finally:
        await shop.close()


async def test_the_bootstrap_staff_account_is_kept_idempotently(make_database) -> None:
    database = await migrate(await make_database("sqlite", service="users"), "users")
    auth = AuthConfig.ephemeral(staff=True)
    assert auth.staff_email
    assert auth.staff_password
    credentials = Credentials(database, auth)
    published = CollectingPublisher()
    first = await credentials.ensure_staff(published, auth.staff_email, auth.staff_password)
    again = await credentials.ensure_staff(published, auth.staff_email, auth.staff_password)
    assert first == again
    assert [e.user_id for e in published.of_type(UserRegistered)] == [first]
    token = await credentials.login(auth.staff_email, auth.staff_password)
    assert (token.subject, token.role) == (first, Role.STAFF)
    # A new password (a rotated env file) replaces the old one.
    await credentials.ensure_staff(published, auth.staff_email, "a rotated password")
    with pytest.raises(Unauthorized):
        await credentials.login(auth.staff_email, auth.staff_password)
    assert (await credentials.login(auth.staff_email, "a rotated password")).role is Role.STAFF
    async with database.connect() as connection:
        count = (await connection.execute(select(func.count()).select_from(users))).scalar_one()
    assert count == 1


async def test_an_existing_customer_named_as_staff_is_promoted(make_database) -> None:
    database = await migrate(await make_database("sqlite", service="users"), "users")
    app = users_app(database, CollectingPublisher())
    async with http_client(app) as client:
        body = {"email": "boss@example.com", "name": "Boss", "password": "the old password"}
        assert (await client.post("/users", json=body)).status_code == 201
        await Credentials(database, app.state.auth).ensure_staff(
            CollectingPublisher(), "boss@example.com", "the new password"
        )
        login = await client.post(
            "/auth/token", json={"email": "boss@example.com", "password": "the new password"}
        )
        assert login.json()["role"] == "staff"
        listed = await client.get(
            "/users", auth=password_auth(client, "boss@example.com", "the new password")
        )
        assert listed.status_code == 200


async def test_a_client_fetches_a_new_token_once_after_a_401(make_database) -> None:
    database = await migrate(await make_database("sqlite", service="orders"), "orders")
    app = orders_app(database, CollectingPublisher())
    config: AuthConfig = app.state.auth
    handed: list[str] = []

    async def obtain() -> IssuedToken:
        # The first token is already expired (a clock step, a rotated secret) though it
        # claims an hour, so the client cannot know until the service refuses it.
        issued = config.issue("u-1", Role.CUSTOMER, ttl=-1 if not handed else 3600)
        handed.append(issued.access_token)
        return IssuedToken(issued.access_token, 3600, issued.subject, issued.role)

    auth = TokenAuth(obtain)
    async with http_client(app, auth) as client:
        first = await client.get("/orders")
        second = await client.get("/orders")
    assert (first.status_code, second.status_code) == (200, 200)
    assert len(handed) == 2  # one refused, one fetched again and then kept


async def test_a_load_without_credentials_says_what_to_set(monkeypatch, tmp_path) -> None:
    from shop.serve import shop_load
    from tidings.loadgen import LoadTarget

    monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    monkeypatch.setenv("TIDINGS_ENV_FILE", str(tmp_path / "missing.env"))
    with pytest.raises(ConfigurationError, match="--env-file"):
        async with shop_load(LoadTarget(urls={}, count=1)):
            pytest.fail("set up a load without credentials")
    written = tmp_path / "runtime.env"
    written.write_text(f"{SECRET_VARIABLE}={SECRET}\n")  # a secret but no staff account
    monkeypatch.setenv("TIDINGS_ENV_FILE", str(written))
    with pytest.raises(ConfigurationError, match=STAFF_PASSWORD_VARIABLE):
        async with shop_load(LoadTarget(urls={"users": "http://127.0.0.1:9"}, count=1)):
            pytest.fail("set up a load without a staff account")
