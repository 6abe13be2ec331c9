"""The Accept header of WADO-RS frame and bulk-data retrieval (PS3.18 §8.7.3, §8.7.4).

Frames are always answered multipart/related. What each part can be:
- application/octet-stream in Explicit VR Little Endian (always available: native
  frames are sliced, compressed ones decoded);
- the frames as stored: `transfer-syntax=*`, or the stored syntax by its UID, or the
  image media type of a compressed syntax (image/jp2, image/jpeg, image/jls, …).
`type="*/*"` (dicomweb-client's default), a bare `*/*` and no Accept at all get
Explicit VR Little Endian, which every client can read.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.uid import ExplicitVRLittleEndian

from service.dicom.transfer_syntax import IMAGE_MEDIA_TYPES, NATIVE_LITTLE_ENDIAN

OCTET_STREAM = "application/octet-stream"


class NotAcceptableError(ValueError):
    """No representation the Accept header allows can be produced."""


@dataclass(frozen=True, slots=True)
class MediaRange:
    media_type: str
    params: dict[str, str]
    quality: float


@dataclass(frozen=True, slots=True)
class FrameChoice:
    """How to answer: decoded Explicit VR LE (stored=False), or the stored bytes."""

    part_type: str  # media type of each part (of the whole body when single)
    transfer_syntax: str
    stored: bool
    single: bool = False  # one frame as the whole body, not multipart (PS3.18 §8.7.3.3.2)


def parse_accept(header: str | None) -> list[MediaRange]:
    """Media ranges by decreasing quality (stable); quotes around values removed."""
    ranges: list[MediaRange] = []
    for item in _split(header or "", ","):
        pieces = _split(item, ";")
        if not pieces or not pieces[0].strip():
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            name, _, value = piece.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 1.0
        ranges.append(MediaRange(pieces[0].strip().lower(), params, quality))
    ranges.sort(key=lambda r: -r.quality)
    return ranges or [MediaRange("*/*", {}, 1.0)]


def _split(text: str, separator: str) -> list[str]:
    """Split at `separator` outside double quotes (type="…" may hold ';' or ',')."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in (p.strip() for p in parts) if part]


def choose_frames(header: str | None, stored_syntax: str, *,
                  stored_available: bool = True, single_frame: bool = False) -> FrameChoice:
    """The representation of frames for `header`; NotAcceptableError when none fits.

    A request for one frame may also be answered single part: `application/octet-stream`
    (decoded, or as stored with transfer-syntax=*), or the image media type of the stored
    compressed syntax (image/jpeg, image/jp2, image/jls, …) with transfer-syntax absent or *.
    """
    decoded = FrameChoice(OCTET_STREAM, ExplicitVRLittleEndian, False)
    native = stored_syntax in NATIVE_LITTLE_ENDIAN
    image_type = IMAGE_MEDIA_TYPES.get(stored_syntax)
    for accepted in parse_accept(header):
        if accepted.quality <= 0:
            continue
        if accepted.media_type == "*/*":
            return decoded
        if single_frame and accepted.media_type != "multipart/related":
            single = _single_frame(accepted, stored_syntax, native,
                                   stored_available and image_type is not None, image_type)
            if single is not None:
                return single
            continue
        if accepted.media_type != "multipart/related":
            continue
        part_type = accepted.params.get("type", "*/*").lower()
        syntax = accepted.params.get("transfer-syntax")
        if part_type in ("*/*", OCTET_STREAM, "application/*") and syntax in (
                None, ExplicitVRLittleEndian):
            return decoded
        if part_type in ("*/*", OCTET_STREAM) and (syntax == "*" or syntax == stored_syntax):
            if native:
                return decoded
            if stored_available:
                return FrameChoice(OCTET_STREAM, stored_syntax, True)
        if image_type and stored_available and (part_type == image_type or (
                part_type == "image/*" and syntax in (None, "*", stored_syntax))) \
                and syntax in (None, "*", stored_syntax):
            return FrameChoice(image_type, stored_syntax, True)
    available = [f'multipart/related; type="{OCTET_STREAM}"; transfer-syntax='
                 f"{ExplicitVRLittleEndian}"]
    if not native and stored_available:
        available.append(f'multipart/related; type="{OCTET_STREAM}"; transfer-syntax='
                         f"{stored_syntax}")
        if image_type:
            available.append(f'multipart/related; type="{image_type}"')
    if single_frame:
        available.append(OCTET_STREAM)
        if not native and stored_available and image_type:
            available.append(image_type)
    raise NotAcceptableError("; or ".join(available))


def _single_frame(accepted: MediaRange, stored_syntax: str, native: bool,
                  compressed_available: bool, image_type: str | None) -> FrameChoice | None:
    syntax = accepted.params.get("transfer-syntax")
    if accepted.media_type == OCTET_STREAM:
        if syntax in (None, ExplicitVRLittleEndian) or (native and syntax in (
                "*", stored_syntax)):
            return FrameChoice(OCTET_STREAM, ExplicitVRLittleEndian, False, single=True)
        if compressed_available and syntax in ("*", stored_syntax):
            return FrameChoice(OCTET_STREAM, stored_syntax, True, single=True)
        return None
    if compressed_available and image_type and accepted.media_type in (image_type, "image/*") \
            and syntax in (None, "*", stored_syntax):
        return FrameChoice(image_type, stored_syntax, True, single=True)
    return None


DICOM = "application/dicom"
# What a study, series or instance can be sent as (PS3.18 §10.4.1.1.1, Table 8.7.3-5).
INSTANCE_REPRESENTATIONS = (
    f'multipart/related; type="{DICOM}"; transfer-syntax=*',
    f'multipart/related; type="{DICOM}"; transfer-syntax={ExplicitVRLittleEndian}',
)


def choose_instances(header: str | None) -> str:
    """The transfer syntax to send Part 10 instances in: "*" (as stored) or Explicit VR
    Little Endian, the default (PS3.18 §8.7.3.5.2); NotAcceptableError otherwise."""
    for accepted in parse_accept(header):
        if accepted.quality <= 0:
            continue
        if accepted.media_type in ("*/*", "multipart/*"):
            return ExplicitVRLittleEndian
        if accepted.media_type != "multipart/related":
            continue
        if accepted.params.get("type", DICOM).lower() not in (DICOM, "application/*", "*/*"):
            continue
        syntax = accepted.params.get("transfer-syntax", ExplicitVRLittleEndian)
        if syntax in ("*", ExplicitVRLittleEndian):
            return syntax
    raise NotAcceptableError("; or ".join(INSTANCE_REPRESENTATIONS))


JPEG, PNG = "image/jpeg", "image/png"
RENDERED_TYPES = (JPEG, PNG)
MULTIPART_RENDERED = tuple(f'multipart/related; type="{media}"' for media in RENDERED_TYPES)


def choose_rendered(header: str | None, *, multipart: bool) -> tuple[str, bool]:
    """(image media type, multipart?) of a rendered resource or thumbnail (PS3.18 §8.7.4):
    image/jpeg (also for none, image/* and */*) or image/png, and, where `multipart` (a
    study or series), multipart/related of either; NotAcceptableError naming the offer."""
    if not (header or "").strip():
        return JPEG, False
    for accepted in parse_accept(header):
        if accepted.quality <= 0:
            continue
        if accepted.media_type in RENDERED_TYPES:
            return accepted.media_type, False
        if accepted.media_type in ("image/*", "*/*"):
            return JPEG, False
        if multipart and accepted.media_type == "multipart/related":
            part_type = accepted.params.get("type", JPEG).lower()
            if part_type in RENDERED_TYPES:
                return part_type, True
            if part_type in ("image/*", "*/*"):
                return JPEG, True
    raise NotAcceptableError(", ".join([*RENDERED_TYPES,
                                        *(MULTIPART_RENDERED if multipart else ())]))


def choose_bulkdata(header: str | None) -> bool:
    """True for multipart/related (the default), False for a single application/octet-stream."""
    for accepted in parse_accept(header):
        if accepted.quality <= 0:
            continue
        if accepted.media_type == "*/*":
            return True
        if accepted.media_type == "multipart/related" and accepted.params.get(
                "type", "*/*").lower() in ("*/*", OCTET_STREAM, "application/*"):
            return True
        if accepted.media_type == OCTET_STREAM:
            return False
    raise NotAcceptableError(f'multipart/related; type="{OCTET_STREAM}" or {OCTET_STREAM}')
