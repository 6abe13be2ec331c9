"""POST /v1/notifications/pubsub: Pub/Sub push of the Healthcare API's new-instance events.

Open to the service's own caller authentication (Pub/Sub sends its OIDC token, not an API
key): the handler verifies that token itself (service/usecases/notifications.py).
"""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, current_app, request

from service.api import PUSH_HANDLER, json_response
from service.errors import NotFound, PayloadTooLarge

blueprint = Blueprint("notifications", __name__)
MAX_PUSH_BYTES = 64 * 1024  # a push is a few hundred bytes; Pub/Sub's own cap is 10 MB


@blueprint.post("/v1/notifications/pubsub")
def pubsub_push() -> Response:
    handler = current_app.extensions.get(PUSH_HANDLER)
    if handler is None:
        raise NotFound("Pub/Sub notifications are off: set DICOM_RESOLVER_PUBSUB_AUDIENCE")
    body = request.stream.read(MAX_PUSH_BYTES + 1)
    if len(body) > MAX_PUSH_BYTES:
        raise PayloadTooLarge(f"a push body is at most {MAX_PUSH_BYTES} bytes")
    answer = handler.handle(request.headers.get("Authorization"), body)
    return json_response(orjson.dumps(answer))
