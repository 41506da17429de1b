"""SIP digest credentials: generated server-side, stored only as HA1/HA1B."""

from __future__ import annotations

import hashlib
import secrets
import string

# No look-alike characters: people type these into desk phones.
_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "Il1O0o")


def generate_password(length: int = 20) -> str:
    """A strong random password (~114 bits at the default length)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _md5(text: str) -> str:
    # MD5 is what SIP digest (RFC 2617) and Kamailio's auth_db compare against.
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def ha1(login: str, realm: str, password: str) -> str:
    return _md5(f"{login}:{realm}:{password}")


def ha1b(login: str, realm: str, password: str) -> str:
    # Phones that send "user@domain" as the digest username.
    return _md5(f"{login}@{realm}:{realm}:{password}")


def new_credentials(login: str, realm: str) -> tuple[str, str, str]:
    """A fresh password for ``login`` in ``realm``, with the two digests Kamailio stores."""
    password = generate_password()
    return password, ha1(login, realm, password), ha1b(login, realm, password)
