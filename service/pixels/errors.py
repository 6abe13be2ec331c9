"""The exceptions of the pixel pipeline.

All derive from ValueError: they describe data or requests that cannot be
turned into numbers, never a transient failure, so nothing here is retryable.
The API maps them to problem responses (PixelDataError → 502/422, DtypeError →
422, WindowError → 400, FrameRangeError → 404, EncodeError → 406/413).
"""

from __future__ import annotations


class PixelDataError(ValueError):
    """The pixel attributes or the pixel payload are missing, inconsistent or undecodable."""


class FrameRangeError(PixelDataError):
    """A requested frame number lies outside 1..NumberOfFrames."""


class DtypeError(ValueError):
    """The requested output dtype cannot hold the result exactly."""


class WindowError(ValueError):
    """A window specification (center/width or preset) is malformed or out of range."""


class EncodeError(ValueError):
    """An array cannot be encoded in the requested format or within the size limit."""
