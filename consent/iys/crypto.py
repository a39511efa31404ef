"""Encryption of İYS credentials at rest (Fernet: AES-128-CBC with HMAC-SHA256).

The key is settings.IYS_CREDENTIALS_KEY (a Fernet key, from the environment) or,
when that is empty, one derived from SECRET_KEY, so an install works without extra
set-up. Rotating SECRET_KEY without setting IYS_CREDENTIALS_KEY makes stored
credentials unreadable: the sync page then asks for them again.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class CredentialsUnreadable(Exception):
    """The stored secret cannot be decrypted with the current key."""


def _fernet() -> Fernet:
    configured = getattr(settings, "IYS_CREDENTIALS_KEY", "")
    if configured:
        return Fernet(configured.encode())
    digest = hashlib.sha256(b"tekil.iys.credentials:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_secret(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError) as error:
        raise CredentialsUnreadable("the İYS password cannot be decrypted") from error
