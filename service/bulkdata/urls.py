"""Google Healthcare DICOMweb URLs: deriving an instance's URL when the dump lacks a pixel URI.

Older exports may carry no BulkDataURI for Pixel Data (7FE0,0010). The
instance URL is then recovered from another BulkDataURI of the same instance
(`…/instances/{sop}/bulkdata/00020001` → `…/instances/{sop}`) or built from
the configured store path and the study/series/SOP Instance UIDs.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from service.bulkdata.allowlist import GOOGLE_HEALTHCARE_HOST
from service.dicom import tags
from service.errors import Unprocessable

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_STORE = re.compile(r"^projects/[^/]+/locations/[^/]+/datasets/[^/]+/dicomStores/[^/]+$")
_INSTANCE_SUFFIX = re.compile(r"^(?P<instance>.+/studies/[^/]+/series/[^/]+/instances/[^/?#]+)"
                              r"/(?:bulkdata|frames|metadata|rendered)(?:[/?#].*)?$")


def instance_url_from_bulkdata_uri(uri: str) -> str | None:
    """The instance URL a BulkDataURI (or frames/metadata URL) belongs to, if it has that shape."""
    match = _INSTANCE_SUFFIX.match(uri)
    return match.group("instance") if match else None


def instance_url_from_store(store: str, study_uid: str, series_uid: str, sop_uid: str) -> str:
    """`https://healthcare.googleapis.com/v1/{store}/dicomWeb/studies/…/instances/{sop}`."""
    store = store.strip().strip("/")
    if not _STORE.match(store):
        raise Unprocessable(
            "DICOM_RESOLVER_DICOM_STORE must look like "
            "projects/P/locations/L/datasets/D/dicomStores/S.", setting="dicom_store")
    for name, uid in (("StudyInstanceUID", study_uid), ("SeriesInstanceUID", series_uid),
                      ("SOPInstanceUID", sop_uid)):
        # UIDs go into a URL path: anything but digits and dots could escape it.
        if not uid or not _UID.match(uid) or len(uid) > 64:
            raise Unprocessable(f"{name} {uid[:80]!r} is not a valid DICOM UID.", element=name)
    return (f"https://{GOOGLE_HEALTHCARE_HOST}/v1/{quote(store, safe='/')}/dicomWeb"
            f"/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}")


def pixel_data_url(instance_url: str) -> str:
    """Google's BulkDataURI for Pixel Data of an instance."""
    return f"{instance_url.rstrip('/')}/bulkdata/{tags.PIXEL_DATA}"


def frames_url(instance_url: str, frames: list[int]) -> str:
    if not frames or any(not isinstance(n, int) or n < 1 for n in frames):
        raise Unprocessable("Frame numbers start at 1.", frames=[str(n) for n in frames][:20])
    return f"{instance_url.rstrip('/')}/frames/{','.join(str(n) for n in frames)}"
