"""Pub/Sub push, emulated: a "new instance" notification POSTed to a URL with an OIDC token.

What a push subscription on a DICOM store's notification topic sends (Healthcare API
"DICOM Pub/Sub notifications"; Pub/Sub push with authentication): a JSON body
`{"message": {"data": base64(instance resource name), "attributes", "messageId",
"publishTime"}, "subscription"}` and `Authorization: Bearer <ID token>`, the token signed
by Google for the subscription's audience and push service account. Here the emulator
signs it with a key of its own and serves the certificate at /oauth2/v1/certs, in the
format of https://www.googleapis.com/oauth2/v1/certs, so that the service verifies it as
it would verify Google's.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from service.emulator.dicomstore import InstanceKey

log = logging.getLogger(__name__)

GOOGLE_ISSUER = "https://accounts.google.com"
CERTS_PATH = "/oauth2/v1/certs"


class PushSigner:
    """Signs ID tokens as Google's token service does, with a certificate to verify them."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(20)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "emulated-google-oidc")])
        now = dt.datetime.now(dt.UTC)
        self.certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(self.key, hashes.SHA256()))
        pem = self.key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        self._signer = crypt.RSASigner.from_string(pem, key_id=self.kid)

    def certs_json(self) -> bytes:
        pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
        return json.dumps({self.kid: pem}).encode()

    def id_token(self, audience: str, email: str, lifetime: int = 3600) -> str:
        issued = int(time.time())
        return jwt.encode(self._signer, {
            "iss": GOOGLE_ISSUER, "aud": audience, "azp": email, "sub": email,
            "email": email, "email_verified": True, "iat": issued,
            "exp": issued + lifetime}).decode("ascii")


@dataclass(frozen=True)
class Delivery:
    message_id: str
    status: int | None  # None: the endpoint could not be reached


@dataclass
class PushSubscription:
    """Where notifications go: the push endpoint, the token's audience and identity."""

    url: str
    audience: str
    email: str
    subscription: str = "projects/demo-project/subscriptions/dicom-resolver-push"
    attempts: int = 3
    deliveries: list[Delivery] = field(default_factory=list)


class Notifier:
    """Sends one push per new instance (and lets tests send the same message again)."""

    def __init__(self, store_path: str) -> None:
        self._signer: PushSigner | None = None
        self.store_path = store_path
        self.subscription: PushSubscription | None = None
        self._ids = itertools.count(int(time.time() * 1000))
        self._lock = threading.Lock()
        self._session = requests.Session()

    @property
    def signer(self) -> PushSigner:
        """The signing key, made on first use (an RSA key costs a fraction of a second)."""
        with self._lock:
            if self._signer is None:
                self._signer = PushSigner()
            return self._signer

    def subscribe(self, url: str, audience: str | None = None,
                  email: str = "pubsub-push@demo-project.iam.gserviceaccount.com") -> None:
        self.subscription = PushSubscription(url, audience or url, email)

    def message(self, key: InstanceKey, message_id: str | None = None) -> dict:
        name = (f"{self.store_path}/dicomWeb/studies/{key.study_uid}/series/"
                f"{key.series_uid}/instances/{key.sop_uid}")
        with self._lock:
            message_id = message_id or str(next(self._ids))
        subscription = self.subscription.subscription if self.subscription else ""
        return {"message": {"data": base64.b64encode(name.encode()).decode("ascii"),
                            "attributes": {"action": "StoreInstances",
                                           "storeName": self.store_path},
                            "messageId": message_id,
                            "publishTime": dt.datetime.now(dt.UTC).isoformat()},
                "subscription": subscription}

    def push(self, body: dict) -> Delivery:
        """POST one push body as Pub/Sub does, retrying a non-2xx answer a few times."""
        target = self.subscription
        if target is None:
            raise RuntimeError("no push subscription: set one with subscribe()")
        message_id = body["message"]["messageId"]
        status: int | None = None
        for attempt in range(target.attempts):
            token = self.signer.id_token(target.audience, target.email)
            try:
                status = self._session.post(
                    target.url, json=body, timeout=30,
                    headers={"Authorization": f"Bearer {token}"}).status_code
            except requests.RequestException as exc:
                log.info("push of %s failed: %s", message_id, type(exc).__name__)
                status = None
            if status is not None and status < 500:
                # A 2xx acknowledges; a 4xx is the endpoint refusing the message for good
                # (real Pub/Sub redelivers even those until its dead-letter policy stops).
                break
            time.sleep(0.1 * 2 ** attempt)
        delivery = Delivery(message_id, status)
        target.deliveries.append(delivery)
        return delivery

    def notify(self, keys: list[InstanceKey]) -> list[Delivery]:
        return [self.push(self.message(key)) for key in keys] if self.subscription else []
