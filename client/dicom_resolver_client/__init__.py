"""Typed Python client for dicom-resolver (requests + numpy only)."""

from .client import WINDOW_PRESETS, Client, window_to_uint8
from .errors import (
    BadRequest,
    Conflict,
    DicomResolverError,
    Forbidden,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    ProblemError,
    ServiceUnavailable,
    TooManyRequests,
    TransportError,
    TruncatedBody,
    Unauthorized,
    Unprocessable,
    UpstreamError,
)
from .models import Geometry, IngestResult, Volume

__all__ = [
    "WINDOW_PRESETS", "BadRequest", "Client", "Conflict", "DicomResolverError", "Forbidden",
    "Geometry", "IngestResult", "NotAcceptable", "NotFound", "PayloadTooLarge", "ProblemError",
    "ServiceUnavailable", "TooManyRequests", "TransportError", "TruncatedBody", "Unauthorized",
    "Unprocessable", "UpstreamError", "Volume", "window_to_uint8",
]
