"""`Client`: dicom-resolver's /v1 API as typed Python calls.

    client = Client("http://127.0.0.1:8080")
    for study in client.search_studies(PatientName="SUMBERG*"):
        ...
    hu = client.pixels(study_uid, series_uid, sop_uid)            # float32 (rows, columns)
    volume = client.volume(study_uid, series_uid)                 # array + LPS affine

The HTTP session is a constructor argument (an AuthorizedSession, or one aimed at a
test server); problem+json answers are raised as dicom_resolver_client.errors classes.
"""

from __future__ import annotations

import gzip as gzip_module
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import requests
from urllib3.exceptions import ProtocolError

from .errors import TruncatedBody
from .models import Geometry, IngestResult, Volume, header_numbers
from .npy import read_npy
from .transport import ApiKey, Credentials, GoogleIdToken, Transport

NPY = "application/x-npy"
DumpInput = bytes | str | os.PathLike[str] | Sequence[Mapping[str, Any]] | Mapping[str, Any]
Dtype = Literal["float32", "int16"]
# The service's window presets (center, width) in HU, as its openapi.yaml lists them.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0), "mediastinum": (50.0, 350.0), "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0)}


class Client:
    """A dicom-resolver service at `base_url` (e.g. http://127.0.0.1:8080).

    `api_key` is sent as a bearer token (DICOM_RESOLVER_AUTH=api-key); with
    `id_token_audience`, Google ID tokens for that audience are (needs google-auth;
    `id_token_credentials` overrides where they come from). 429 and 503 answers are
    retried up to `max_retries` times, honouring Retry-After (at most `max_wait` s each,
    waited with `sleep`).
    """

    def __init__(self, base_url: str, *, session: requests.Session | None = None,
                 api_key: str | None = None, id_token_audience: str | None = None,
                 id_token_credentials: Any = None,
                 timeout: float | tuple[float, float] = (5.0, 120.0),
                 max_retries: int = 4, max_wait: float = 30.0, page_size: int = 100,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if api_key and id_token_audience:
            raise ValueError("give api_key or id_token_audience, not both")
        credentials: Credentials | None = None
        if api_key:
            credentials = ApiKey(api_key)
        elif id_token_audience:
            credentials = GoogleIdToken(id_token_audience, id_token_credentials)
        self.transport = Transport(base_url, session=session, credentials=credentials,
                                   timeout=timeout, max_retries=max_retries, max_wait=max_wait,
                                   sleep=sleep)
        self.page_size = page_size

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    def close(self) -> None:
        """Close the session this client made (a session given to it stays open)."""
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- ingest -------------------------------------------------------------------------------

    def ingest(self, dump: DumpInput, *, compress: bool = False) -> IngestResult:
        """POST a DICOM JSON dump (bytes, a file path, or parsed JSON); atomic, idempotent."""
        if isinstance(dump, bytes):
            body = dump
        elif isinstance(dump, str | os.PathLike):
            body = Path(dump).read_bytes()
        else:
            body = json.dumps(dump).encode()
        headers = {"Content-Type": "application/dicom+json"}
        if compress:
            body = gzip_module.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        response = self.transport.request("POST", "/v1/dumps", data=body, headers=headers)
        return IngestResult.from_json(response.json())

    # -- search and read ----------------------------------------------------------------------

    def search_studies(self, *, PatientID: str | None = None,  # noqa: N803 (DICOM keywords)
                       PatientName: str | None = None, StudyDate: str | None = None,  # noqa: N803
                       AccessionNumber: str | None = None,  # noqa: N803
                       ModalitiesInStudy: str | Sequence[str] | None = None,  # noqa: N803
                       StudyInstanceUID: str | Sequence[str] | None = None,  # noqa: N803
                       page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every matching study, fetched a page at a time as the iterator advances."""
        filters = {"PatientID": PatientID, "PatientName": PatientName, "StudyDate": StudyDate,
                   "AccessionNumber": AccessionNumber,
                   "ModalitiesInStudy": _comma_list(ModalitiesInStudy),
                   "StudyInstanceUID": _comma_list(StudyInstanceUID)}
        return self._pages("/v1/studies", {k: v for k, v in filters.items() if v is not None},
                           page_size)

    def search_series(self, study: str, *,
                      page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """The series of a study, by SeriesNumber."""
        return self._pages(f"/v1/studies/{study}/series", {}, page_size)

    def search_instances(self, study: str, series: str, *,
                         page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Summaries of a series' instances, by InstanceNumber then slice position."""
        return self._pages(f"/v1/studies/{study}/series/{series}/instances", {}, page_size)

    def study(self, study: str) -> dict[str, Any]:
        return self._json(f"/v1/studies/{study}")

    def series(self, study: str, series: str) -> dict[str, Any]:
        return self._json(f"/v1/studies/{study}/series/{series}")

    def instance(self, study: str, series: str, instance: str, *,
                 view: Literal["normalized", "dicom"] = "normalized") -> dict[str, Any]:
        """Every attribute of one instance: keyword form, or the DICOM JSON as ingested."""
        return self._json(f"/v1/studies/{study}/series/{series}/instances/{instance}",
                          {"view": view} if view != "normalized" else None)

    def delete_study(self, study: str) -> None:
        self.transport.request("DELETE", f"/v1/studies/{study}").close()

    def reports(self, study: str) -> list[dict[str, Any]]:
        """The SR reports of a study: flags, observers, text and content tree."""
        return list(self._json(f"/v1/studies/{study}/reports")["items"])

    def tag(self, tag: str, *, creator: str | None = None) -> dict[str, Any]:
        """The data dictionary's entry for a tag or keyword (private: name its creator)."""
        return self._json(f"/v1/tags/{tag}", {"creator": creator} if creator else None)

    # -- pixels, volumes, geometry ------------------------------------------------------------

    def pixels(self, study: str, series: str, instance: str, *,
               frame: int | Literal["all"] = 1, dtype: Dtype = "float32",
               window: str | tuple[float, float] | None = None) -> npt.NDArray[Any]:
        """One frame (rows, columns[, samples]) in modality units (HU for CT), or with
        frame="all" every frame (frames, rows, columns[, samples]).

        With `window` (a preset name or (center, width) in HU) the answer is instead the
        display image: uint8 after the linear VOI function of PS3.3 C.11.2.1.2.1, as the
        service's PNG rendering gives it.
        """
        path = f"/v1/studies/{study}/series/{series}/instances/{instance}/pixels"
        params = {"format": "npy", "frame": str(frame), "dtype": dtype}
        values = self._npy(path, params)
        if window is None:
            return values
        center, width = WINDOW_PRESETS[window] if isinstance(window, str) else window
        return window_to_uint8(values, center, width)

    def volume(self, study: str, series: str, *, dtype: Dtype = "float32",
               strict: bool = True) -> Volume:
        """The series as one (slices, rows, columns) array ordered along the slice normal,
        read from the stream straight into the array, with its patient geometry.

        A series that is not one volume raises Unprocessable (its `errors` say why) unless
        strict=False, which gives the largest consistent stack (`excluded_images` > 0).
        """
        path = f"/v1/studies/{study}/series/{series}/volume"
        params = {"format": "npy", "dtype": dtype, "strict": "true" if strict else "false"}
        response = self.transport.request("GET", path, params=params, stream=True,
                                          headers={"Accept": NPY, "Accept-Encoding": "identity"})
        with response:
            array = _read_body(response)
            headers = response.headers
        direction = header_numbers(headers.get("X-Direction"))
        return Volume(array=array, ordered_by=headers.get("X-Ordered-By", "position"),
                      origin=header_numbers(headers.get("X-Origin")),
                      spacing=header_numbers(headers.get("X-Spacing")),
                      direction=None if direction is None else direction.reshape(3, 3),
                      excluded_images=int(headers.get("X-Excluded-Images") or 0))

    def geometry(self, study: str, series: str) -> Geometry:
        """Slice order, spacing, gaps and what breaks the volume, from metadata only."""
        return Geometry.from_json(self._json(f"/v1/studies/{study}/series/{series}/geometry"))

    # -- plumbing -----------------------------------------------------------------------------

    def _json(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        response = self.transport.request("GET", path, params=params)
        document: dict[str, Any] = response.json()
        return document

    def _pages(self, path: str, filters: Mapping[str, str],
               page_size: int | None) -> Iterator[dict[str, Any]]:
        limit = page_size or self.page_size
        offset = 0
        while True:
            page = self._json(path, {**filters, "limit": str(limit), "offset": str(offset)})
            items: list[dict[str, Any]] = page["items"]
            yield from items
            offset += len(items)
            if not items or offset >= int(page["total"]):
                return

    def _npy(self, path: str, params: Mapping[str, str]) -> npt.NDArray[Any]:
        response = self.transport.request("GET", path, params=params, stream=True,
                                          headers={"Accept": NPY, "Accept-Encoding": "identity"})
        with response:
            return _read_body(response)


def _read_body(response: requests.Response) -> npt.NDArray[Any]:
    """The .npy body, streamed into its array; a connection cut short is TruncatedBody."""
    try:
        return read_npy(response.raw)
    except (ProtocolError, requests.RequestException, OSError) as exc:
        raise TruncatedBody(f"{response.url}: the body was cut short "
                            f"({type(exc).__name__})") from exc


def window_to_uint8(values: npt.NDArray[Any], center: float,
                    width: float) -> npt.NDArray[np.uint8]:
    """PS3.3 C.11.2.1.2.1 linear VOI function onto 0..255 (MONOCHROME2)."""
    if width < 1:
        raise ValueError("the window width must be at least 1")
    lower_center, span = center - 0.5, width - 1
    if span == 0:
        return np.where(values <= lower_center, 0, 255).astype(np.uint8)
    scaled = (np.asarray(values, dtype=np.float64) - lower_center) / span + 0.5
    return np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)


def _comma_list(value: str | Sequence[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ",".join(value)
