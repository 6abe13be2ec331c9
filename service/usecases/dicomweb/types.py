"""The inputs and outputs of the DICOMweb use cases (search, metadata, frames, bulk data,
retrieve, rendered): frozen values, importable without Flask or SQLAlchemy, so views,
CLI commands and tests name them without loading the store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydicom.uid import ExplicitVRLittleEndian as EXPLICIT_VR_LITTLE_ENDIAN

from service.dicomweb import wado_accept
from service.dicomweb.query import QidoQuery
from service.dicomweb.wado_accept import JPEG

AS_STORED = "*"  # RetrieveQuery.transfer_syntax: what is stored, as it is stored


@dataclass(frozen=True)
class SearchQuery:
    """A parsed QIDO query (its level included), within a study (and series) or everywhere.

    `base_url` is the service's root as the client sees it (for RetrieveURLs);
    `limit_given` says whether the client chose the page size itself.
    """

    query: QidoQuery
    base_url: str
    study_uid: str | None = None
    series_uid: str | None = None
    limit_given: bool = False


@dataclass(frozen=True)
class SearchResult:
    """One page: its datasets, how many match in all, and how many more the server's own
    limit held back (to be announced, never truncated silently; 0 when the client set it)."""

    datasets: list[Any]  # DICOM JSON objects: dicts, or orjson.Fragment (study level)
    total: int
    held_back: int

    @property
    def past_end(self) -> bool:
        """Matches exist but the offset is past them: nothing more (§8.3.4.4)."""
        return not self.datasets and self.total > 0


@dataclass(frozen=True)
class MetadataQuery:
    """A study, series (series_uid) or instance (sop_uid too), as seen from `base_url`.

    `if_none_match` holds the strong ETags the client already has ("*": any).
    """

    study_uid: str
    series_uid: str | None = None
    sop_uid: str | None = None
    base_url: str = ""
    if_none_match: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MetadataAnswer:
    """The ETag of the answer, its body (None: the client's copy is current), and when the
    level last changed."""

    etag: str
    body: bytes | None
    last_modified: dt.datetime | None


@dataclass(frozen=True)
class FramesQuery:
    """Frames (1-based, in the asked order) of one instance, for a client that accepts `accept`."""

    study_uid: str
    series_uid: str
    sop_uid: str
    frames: tuple[int, ...]
    accept: str | None = None


@dataclass(frozen=True)
class RetrievedFrames:
    """One body per asked frame, in the transfer syntax and media type of `choice`."""

    bodies: list[bytes]
    choice: wado_accept.FrameChoice


@dataclass(frozen=True)
class BulkDataQuery:
    """The bulk data at `path` (e.g. "7FE00010") of one instance, for a client that
    accepts `accept`."""

    study_uid: str
    series_uid: str
    sop_uid: str
    path: str
    accept: str | None = None


@dataclass(frozen=True)
class BulkData:
    """The whole value; `transfer_syntax_uid` is that of Pixel Data (None for other values),
    `multipart` whether the client asked for it wrapped in multipart/related."""

    data: bytes
    transfer_syntax_uid: str | None
    multipart: bool


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


@dataclass(frozen=True)
class RenderOptions:
    """How to render: media type, JPEG quality, `window` as asked, the box to fit into."""

    media_type: str = JPEG
    quality: int = 90
    window: str | None = None
    viewport: tuple[int, int] | None = None


@dataclass(frozen=True)
class FrameRef:
    """One frame (1-based) of one instance."""

    study_uid: str
    series_uid: str
    sop_uid: str
    frame: int = 1
