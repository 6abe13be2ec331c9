"""WADO-RS retrieve of DICOM objects (PS3.18 §10.4): stored instances → Part 10 files, in order.

Where an instance lives in a Google DICOM store (a BulkDataURI of its stored JSON
names the instance there), the object itself comes from Google's instance
retrieve through the bulk-data client (allowlist, google-auth, retries): byte
for byte what is stored, nothing lost (Google's metadata drops sequences over
1 MiB). Otherwise the Part 10 file is rebuilt from the stored DICOM JSON, every
BulkDataURI resolved through the same client (service.dicom.part10).

Transfer syntax: "*" sends what is stored; Explicit VR Little Endian (the
default) re-encodes what is stored otherwise, decoding compressed Pixel Data.
Instances are fetched `window` at a time, in order (service.usecases.bounded):
memory is bounded by what is in flight, not by the study.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson
from pydicom.uid import ExplicitVRLittleEndian as EXPLICIT_VR_LITTLE_ENDIAN
from sqlalchemy import Engine

from service.bulkdata.allowlist import GOOGLE_HEALTHCARE_HOST
from service.bulkdata.client import BulkDataClient
from service.bulkdata.urls import instance_url_from_bulkdata_uri
from service.dicom import part10
from service.errors import NotFound, Unprocessable, UpstreamError
from service.store import metadata
from service.store.metadata import InstanceKey
from service.usecases.bounded import OrderedPool

log = logging.getLogger(__name__)

AS_STORED = "*"
PIXEL_DATA = "7FE00010"
Converted = TypeVar("Converted")
TRANSFER_SYNTAX = "00020010"


@dataclass(frozen=True)
class RetrieveQuery:
    """A study, series (series_uid) or instance (sop_uid too), in `transfer_syntax`."""

    study_uid: str
    series_uid: str | None = None
    sop_uid: str | None = None
    transfer_syntax: str = EXPLICIT_VR_LITTLE_ENDIAN  # or AS_STORED


@dataclass(frozen=True)
class RetrievedInstance:
    """One Part 10 file; `source` says where it came from ("store" or "rebuilt")."""

    series_uid: str
    sop_uid: str
    transfer_syntax_uid: str
    data: bytes
    source: str


def open_retrieve(engine: Engine, client: BulkDataClient, query: RetrieveQuery, *,
                  window: int, transcode_upstream: bool = False
                  ) -> OrderedPool[InstanceKey, RetrievedInstance]:
    """The instances of the query as a started pool (404 when none is stored; the first
    window's failures raise here, before anything is sent)."""
    keys = metadata.instance_keys(engine, query.study_uid, query.series_uid, query.sop_uid)
    if not keys:
        raise NotFound(f"{query.sop_uid or query.series_uid or query.study_uid} is not stored")

    def work(key: InstanceKey) -> RetrievedInstance:
        return retrieve_instance(engine, client, query.study_uid, key, query.transfer_syntax,
                                 transcode_upstream=transcode_upstream)

    return OrderedPool(work, keys, window, name="retrieve").start()


def retrieve_instance(engine: Engine, client: BulkDataClient, study_uid: str, key: InstanceKey,
                      transfer_syntax: str, *, transcode_upstream: bool = False
                      ) -> RetrievedInstance:
    """One instance as a Part 10 file in `transfer_syntax` ("*": as stored)."""
    raw = metadata.instance_json(engine, study_uid, key.series_uid, key.sop_uid)
    if raw is None:  # deleted since the retrieve was planned
        raise NotFound(f"instance {key.sop_uid} is no longer stored")
    instance = orjson.loads(raw)
    url = google_instance_url(instance, key.sop_uid)
    if url is not None:
        return _from_store(client, url, key, transfer_syntax, transcode_upstream)
    return rebuild_instance(client, instance, key, transfer_syntax)


def google_instance_url(instance: dict[str, Any], sop_uid: str) -> str | None:
    """The URL of the instance in a Google DICOM store, from any top-level BulkDataURI of
    it (`…/dicomWeb/studies/…/instances/{sop}/bulkdata/…`); None when none says."""
    for attribute in instance.values():
        uri = attribute.get("BulkDataURI") if isinstance(attribute, dict) else None
        url = instance_url_from_bulkdata_uri(uri) if isinstance(uri, str) else None
        if url is None:
            continue
        try:
            parts = urlsplit(url)
        except ValueError:  # an uploaded URI, e.g. "https://[not-ipv6/…": not Google's
            continue
        if (parts.hostname or "").lower() == GOOGLE_HEALTHCARE_HOST \
                and "/dicomWeb/studies/" in parts.path \
                and parts.path.rsplit("/", 1)[-1] == sop_uid:
            return url
    return None


def _from_store(client: BulkDataClient, url: str, key: InstanceKey, transfer_syntax: str,
                transcode_upstream: bool) -> RetrievedInstance:
    wanted = EXPLICIT_VR_LITTLE_ENDIAN if transcode_upstream and transfer_syntax != AS_STORED \
        else AS_STORED
    stored = client.fetch_instance(url, sop_uid=key.sop_uid, transfer_syntax=wanted)
    syntax = stored.transfer_syntax_uid or part10.stored_transfer_syntax(stored.data)
    if syntax is None:
        raise UpstreamError(f"The Healthcare API's instance retrieve of {key.sop_uid} did not "
                            "send a DICOM Part 10 file.", sop_instance_uid=key.sop_uid)
    data = stored.data
    if transfer_syntax != AS_STORED and syntax != EXPLICIT_VR_LITTLE_ENDIAN:
        data = _converted(key.sop_uid, lambda: part10.explicit_little_endian_bytes(data))
        syntax = EXPLICIT_VR_LITTLE_ENDIAN
    return RetrievedInstance(key.series_uid, key.sop_uid, syntax, data, "store")


def rebuild_instance(client: BulkDataClient, instance: dict[str, Any], key: InstanceKey,
                     transfer_syntax: str) -> RetrievedInstance:
    """The Part 10 file rebuilt from stored DICOM JSON; BulkDataURIs through `client`."""
    stored_syntax = _stored_syntax(instance)
    labelled: list[str] = []  # the transfer syntax the Pixel Data answer was labelled with

    def bulk_data(tag: str, vr: str, uri: str) -> bytes:
        pixel_data = tag.upper() == PIXEL_DATA
        payload = client.fetch_bulk_value(
            uri, sop_uid=key.sop_uid, stored_transfer_syntax=stored_syntax if pixel_data else None)
        if pixel_data and payload.transfer_syntax_uid:
            labelled.append(payload.transfer_syntax_uid)
        return bytes(payload.data)

    try:
        ds = part10.dataset_from_json(instance, bulk_data,
                                      fetched_syntax=lambda: labelled[0] if labelled else None)
    except part10.Part10Error as exc:
        raise Unprocessable(f"Instance {key.sop_uid} cannot be rebuilt as a DICOM file from its "
                            f"stored JSON: {exc}.", sop_instance_uid=key.sop_uid) from exc
    if transfer_syntax != AS_STORED:
        _converted(key.sop_uid, lambda: part10.to_explicit_little_endian(ds))
    data = _converted(key.sop_uid, lambda: part10.write_part10(ds))
    return RetrievedInstance(key.series_uid, key.sop_uid, str(ds.file_meta.TransferSyntaxUID),
                             data, "rebuilt")


def _converted(sop_uid: str, convert: Callable[[], Converted]) -> Converted:
    """convert(), a Part10Error (an undecodable codestream, say) as a 422 naming the UID."""
    try:
        return convert()
    except part10.Part10Error as exc:
        log.warning("instance %s cannot be sent as asked: %s", sop_uid,
                    type(exc.__cause__ or exc).__name__)
        raise Unprocessable(f"Instance {sop_uid} cannot be sent as asked: {exc}. Ask for "
                            "transfer-syntax=* to get it as stored.",
                            sop_instance_uid=sop_uid) from exc


def _stored_syntax(instance: dict[str, Any]) -> str | None:
    values = (instance.get(TRANSFER_SYNTAX) or {}).get("Value") or []
    return str(values[0]).strip() or None if values else None
