"""Live mirror: a Pub/Sub push of the Healthcare API's "new instance" notification.

The Healthcare API publishes one message per stored instance whose data is the
instance's resource name,
`projects/P/locations/L/datasets/D/dicomStores/S/dicomWeb/studies/…/series/…/instances/…`.
A push subscription POSTs `{"message": {"data": base64, "attributes", "messageId"},
"subscription"}` with a Google-signed OIDC token. Pub/Sub delivers at least once and
redelivers until it gets a 2xx, so: the token is verified first; a malformed message or a
store not mirrored is refused with a 4xx; the instance's metadata is fetched and ingested
through service.usecases.ingest (idempotent); only then is the message id remembered and 200
answered. A message id seen before is answered 200 without fetching anything.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from sqlalchemy import Engine

from service.bulkdata.store_reader import StoreReader
from service.errors import BadRequest, ServiceError, Unauthorized, Unprocessable
from service.store import imports as store
from service.usecases.ingest import ingest_bytes

log = logging.getLogger(__name__)

_INSTANCE_NAME = re.compile(
    r"^(?P<store>projects/[^/]+/locations/[^/]+/datasets/[^/]+/dicomStores/[^/]+)"
    r"/dicomWeb/studies/(?P<study>[0-9.]{1,64})/series/(?P<series>[0-9.]{1,64})"
    r"/instances/(?P<sop>[0-9.]{1,64})$")
# Pub/Sub keeps an unacknowledged message at most 7 days; remember ids a day longer.
MESSAGE_RETENTION = dt.timedelta(days=8)
MAX_MESSAGE_ID = 128


class Verifier(Protocol):
    def authenticate(self, token: str) -> str: ...


class NotificationMetrics(Protocol):
    def count_notification(self, outcome: str) -> None: ...


@dataclass(frozen=True)
class PushedInstance:
    message_id: str
    store: str
    study_uid: str
    series_uid: str
    sop_uid: str
    action: str | None


def parse_push(body: bytes) -> PushedInstance:
    """The instance a push request names; BadRequest naming the offending field."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not JSON", pointer="/") from None
    message = document.get("message") if isinstance(document, dict) else None
    if not isinstance(message, dict):
        raise BadRequest("the body has no message object", pointer="/message")
    message_id = message.get("messageId", message.get("message_id"))
    if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_MESSAGE_ID:
        raise BadRequest("the message has no messageId", pointer="/message/messageId")
    data = message.get("data")
    if not isinstance(data, str):
        raise BadRequest("the message has no data", pointer="/message/data")
    try:
        name = base64.b64decode(data, validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        raise BadRequest("message data is not base64 of an ASCII resource name",
                         pointer="/message/data") from None
    match = _INSTANCE_NAME.match(name)
    if match is None:
        raise BadRequest("message data is not a DICOM instance's resource name",
                         pointer="/message/data")
    attributes = message.get("attributes")
    action = attributes.get("action") if isinstance(attributes, dict) else None
    return PushedInstance(message_id, match["store"], match["study"], match["series"],
                          match["sop"], action if isinstance(action, str) else None)


class PushHandler:
    """Verifies, parses, deduplicates and stores pushed notifications."""

    def __init__(self, engine: Engine, verifier: Verifier, stores: Collection[str],
                 reader_for: Callable[[str], StoreReader], *, max_depth: int = 16,
                 metrics: NotificationMetrics | None = None) -> None:
        self._engine = engine
        self._verifier = verifier
        self._stores = frozenset(stores)
        self._reader_for = reader_for
        self._max_depth = max_depth
        self._metrics = metrics

    def handle(self, authorization: str | None, body: bytes) -> dict[str, Any]:
        """The answer for one push request; raises the ServiceError to answer instead."""
        try:
            self._verify(authorization)
            pushed = parse_push(body)
            if pushed.store not in self._stores:
                raise Unprocessable("notifications of this DICOM store are not mirrored",
                                    pointer="/message/data")
        except ServiceError as exc:
            self._count({401: "unauthenticated", 403: "forbidden"}.get(
                exc.status, "malformed" if exc.status == 400 else "unknown_store"))
            raise
        if pushed.action is not None and "delete" in pushed.action.lower():
            self._count("ignored")  # a mirror keeps what it has seen
            return {"status": "ignored", "message_id": pushed.message_id}
        if store.message_seen(self._engine, pushed.message_id):
            self._count("duplicate")
            return {"status": "duplicate", "message_id": pushed.message_id}
        try:
            metadata = self._reader_for(pushed.store).instance_metadata(
                pushed.study_uid, pushed.series_uid, pushed.sop_uid)
            result = ingest_bytes(self._engine, metadata, max_depth=self._max_depth)
        except ServiceError:
            self._count("failed")  # not acknowledged: Pub/Sub delivers it again
            raise
        first = store.remember_message(self._engine, pushed.message_id, MESSAGE_RETENTION)
        self._count("stored" if first else "duplicate")
        log.info("notification %s stored instance %s", pushed.message_id[:40], pushed.sop_uid)
        return {"status": "stored", "message_id": pushed.message_id,
                "sop_instance_uid": pushed.sop_uid, "created": result["created"],
                "updated": result["updated"], "unchanged": result["unchanged"]}

    def _verify(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Pub/Sub push requests carry a Google-signed OIDC token",
                               headers={"WWW-Authenticate": 'Bearer realm="dicom-resolver"'})
        self._verifier.authenticate(token.strip())

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.count_notification(outcome)
