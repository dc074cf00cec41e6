"""What a shop process needs before it listens: a shared secret, and an operator token
when anyone beyond this machine can reach it."""

from __future__ import annotations

import ipaddress
import socket

from shop.common.auth import OPERATOR_VARIABLE, SECRET_VARIABLE, AuthConfig
from tidings.errors import ConfigurationError


def is_loopback(host: str) -> bool:
    """``host`` resolves to loopback addresses only (``0.0.0.0`` and ``::`` do not)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def serving_auth(host: str, config: AuthConfig | None) -> AuthConfig:
    """``config``, or why a service may not listen on ``host`` with it."""
    if config is None:
        raise ConfigurationError(
            f"{SECRET_VARIABLE} is not set: every shop service needs the same token signing "
            "secret (`tidings up` generates one into its env file; pass it with --env-file)"
        )
    if config.operator_token is None and not is_loopback(host):
        raise ConfigurationError(
            f"refusing to listen on {host} without {OPERATOR_VARIABLE}: /metrics and /sagas "
            "would be open to the network; set an operator token or listen on 127.0.0.1"
        )
    return config
