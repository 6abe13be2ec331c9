"""The emulator's service account: an RSA key, a Google-style key file, and JWT verification.

google-auth's service-account flow (RFC 7523, JWT bearer grant) signs an
assertion with the private key of the key file and POSTs it to `token_uri`.
The emulator writes the key file and checks those assertions with the public
half, the way Google's token endpoint does.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HEALTHCARE_SCOPE = "https://www.googleapis.com/auth/cloud-healthcare"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# google-auth puts Google's own endpoint in `aud` whatever the key file's token_uri says.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_CLOCK_SKEW = 60
_MAX_ASSERTION_LIFETIME = 3600


class InvalidAssertion(ValueError):
    """The JWT assertion is not acceptable; the message says which check failed."""


@dataclass(frozen=True)
class ServiceAccount:
    project_id: str
    client_email: str
    client_id: str
    private_key_id: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, project_id: str = "demo-project") -> ServiceAccount:
        return cls(
            project_id=project_id,
            client_email=f"dicom-resolver-emulator@{project_id}.iam.gserviceaccount.com",
            client_id=str(secrets.randbelow(10**20)),
            private_key_id=secrets.token_hex(20),
            private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        )

    def key_file_json(self, token_uri: str) -> dict[str, str]:
        """The key file, shaped like the JSON keys Google issues."""
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode("ascii")
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        }

    def write_key_file(self, path: Path, token_uri: str) -> None:
        # 0600 from the start: this is a private key, even if only the emulator trusts it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.key_file_json(token_uri), handle, indent=2)

    def verify_assertion(self, assertion: str, token_uri: str,
                         now: float | None = None) -> dict[str, Any]:
        """Check signature and claims of a JWT bearer assertion; return its claims."""
        try:
            header_b64, payload_b64, signature_b64 = assertion.split(".")
            header = json.loads(_b64decode(header_b64))
            claims = json.loads(_b64decode(payload_b64))
            signature = _b64decode(signature_b64)
        except (ValueError, binascii.Error) as exc:
            raise InvalidAssertion("the assertion is not a compact JWS") from exc
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            raise InvalidAssertion("the assertion must be signed with RS256")
        if header.get("kid") not in (None, self.private_key_id):
            raise InvalidAssertion("unknown key id")
        try:
            self.private_key.public_key().verify(
                signature, f"{header_b64}.{payload_b64}".encode("ascii"),
                padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise InvalidAssertion("invalid signature") from exc
        _check_claims(claims, self.client_email, token_uri, time.time() if now is None else now)
        return claims


def _check_claims(claims: Any, client_email: str, token_uri: str, now: float) -> None:
    if not isinstance(claims, dict):
        raise InvalidAssertion("the assertion payload is not a JSON object")
    if claims.get("iss") != client_email:
        raise InvalidAssertion("iss is not the service account's client_email")
    if claims.get("aud") not in (token_uri, GOOGLE_TOKEN_AUDIENCE):
        raise InvalidAssertion("aud is not the token endpoint")
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise InvalidAssertion("iat and exp are required numbers")
    if issued > now + _CLOCK_SKEW:
        raise InvalidAssertion("iat is in the future")
    if expires <= now - _CLOCK_SKEW:
        raise InvalidAssertion("the assertion has expired")
    if expires - issued > _MAX_ASSERTION_LIFETIME:
        raise InvalidAssertion("the assertion lives longer than one hour")
    scopes = str(claims.get("scope", "")).split()
    if HEALTHCARE_SCOPE not in scopes and CLOUD_PLATFORM_SCOPE not in scopes:
        raise InvalidAssertion("scope does not include cloud-healthcare")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
