"""Password hashes with scrypt (hashlib, no extra dependency).

A hash is stored as ``scrypt$n$r$p$salt$digest`` (hex), so the parameters can be
raised later without invalidating existing hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# n=2**14, r=8 is scrypt's interactive-login setting: about 16 MiB and a few ms per hash.
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
    )
    # Constant time, so the comparison leaks nothing about the stored digest.
    return hmac.compare_digest(candidate, bytes.fromhex(digest))
