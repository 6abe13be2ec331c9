"""Reading a Google DICOM store over DICOMweb: QIDO-RS study searches and WADO-RS metadata.

Google's paging (Cloud Healthcare DICOM conformance statement, search transaction):
results come `limit` at a time from `offset`, `limit` is capped (5000 for studies and
series, 50000 for instances), and an answer cut by the cap or by `limit` carries
`Warning: 299 {+}: There are additional results that match the query.` A page is
therefore followed by another while it came back full or with that warning; an empty
search answers 204 or `[]`.

Every request goes through BulkDataClient.get: allowlist, re-rooting onto the
configured API root, the token, retries with Retry-After.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import orjson

from service.bulkdata.allowlist import GOOGLE_HEALTHCARE_HOST
from service.bulkdata.client import BulkDataClient
from service.dicom import tags
from service.errors import UpstreamError

# Google's largest QIDO-RS limit for study searches.
GOOGLE_MAX_STUDY_LIMIT = 5000
STORE_PATH = re.compile(r"^projects/[^/]+/locations/[^/]+/datasets/[^/]+/dicomStores/[^/]+$")
UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
DICOM_JSON = "application/dicom+json"


@dataclass(frozen=True)
class StudyPage:
    """One page of a study search: the Study Instance UIDs in order, and whether more
    may follow."""

    study_uids: list[str]
    more: bool


def store_url(store: str) -> str:
    """`https://healthcare.googleapis.com/v1/{store}/dicomWeb` as Google writes it."""
    return f"https://{GOOGLE_HEALTHCARE_HOST}/v1/{quote(store.strip('/'), safe='/')}/dicomWeb"


class StoreReader:
    """QIDO-RS and WADO-RS metadata of one DICOM store; safe to share between threads."""

    def __init__(self, client: BulkDataClient, store: str) -> None:
        if not STORE_PATH.match(store):
            raise ValueError("not a DICOM store path")
        self._client = client
        self.store = store
        self._root = store_url(store)

    def search_studies(self, filters: Mapping[str, str], offset: int,
                       limit: int) -> StudyPage:
        limit = max(1, min(limit, GOOGLE_MAX_STUDY_LIMIT))
        query = urlencode({**filters, "includefield": tags.STUDY_INSTANCE_UID,
                           "limit": str(limit), "offset": str(offset)})
        response = self._client.get(f"{self._root}/studies?{query}",
                                    {"Accept": DICOM_JSON}, "a study search")
        if response.status_code == 204 or not response.content.strip():
            return StudyPage([], False)
        try:
            matches = orjson.loads(response.content)
            uids = [str(match[tags.STUDY_INSTANCE_UID]["Value"][0]) for match in matches]
        except (orjson.JSONDecodeError, TypeError, KeyError, IndexError) as exc:
            raise UpstreamError("The Healthcare API answered a study search with something "
                                "other than DICOM JSON studies.",
                                upstream_status=response.status_code) from exc
        warned = "additional results" in response.headers.get("Warning", "").lower()
        return StudyPage(uids, warned or len(uids) >= limit)

    def study_metadata(self, study_uid: str) -> bytes:
        """The study's WADO-RS metadata: a DICOM JSON array, one element per instance."""
        _check_uid(study_uid)
        return self._metadata(f"{self._root}/studies/{study_uid}/metadata",
                              f"the metadata of study {study_uid}")

    def instance_metadata(self, study_uid: str, series_uid: str, sop_uid: str) -> bytes:
        for uid in (study_uid, series_uid, sop_uid):
            _check_uid(uid)
        return self._metadata(
            f"{self._root}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"
            "/metadata", f"the metadata of instance {sop_uid}")

    def _metadata(self, url: str, what: str) -> bytes:
        response = self._client.get(url, {"Accept": DICOM_JSON}, what)
        return response.content


def _check_uid(uid: str) -> None:
    # UIDs go into a URL path: anything but digits and dots could escape it.
    if not UID.match(uid) or len(uid) > 64:
        raise ValueError(f"{uid[:80]!r} is not a valid DICOM UID")


class StoreReaders:
    """One StoreReader per DICOM store over one shared client (`readers(store)`)."""

    def __init__(self, client: BulkDataClient) -> None:
        self._client = client
        self._readers: dict[str, StoreReader] = {}

    def __call__(self, store: str) -> StoreReader:
        reader = self._readers.get(store)
        if reader is None:
            reader = self._readers[store] = StoreReader(self._client, store)
        return reader
