"""GET /v1/tags/{tag}: the data dictionary (public and private) as JSON."""

from __future__ import annotations

from flask import Blueprint, request

from service.dicom import dictionary
from service.errors import BadRequest, NotFound

blueprint = Blueprint("tags", __name__)


@blueprint.get("/v1/tags/<tag>")
def get_tag(tag: str) -> dict:
    try:
        number = dictionary.parse_tag(tag)
    except ValueError:
        raise BadRequest("tag must be 8 hexadecimal digits (GGGGEEEE) or a keyword",
                         parameter="tag") from None
    creator = request.args.get("creator")
    if dictionary.is_private(number) and not dictionary.is_private_creator(number):
        if not creator:
            raise NotFound(f"{dictionary.tag_key(number)} is private: name its private "
                           f"creator with ?creator=", parameter="creator")
        info = dictionary.lookup_private(number, creator)
        if info is None:
            raise NotFound(f"{dictionary.tag_key(number)} is not in the private dictionary "
                           f"of {creator!r}")
        return {**info.to_json(), "creator": creator}
    info = dictionary.lookup(number)
    if info is None:
        raise NotFound(f"{dictionary.tag_key(number)} is not in the DICOM dictionary")
    return info.to_json()
