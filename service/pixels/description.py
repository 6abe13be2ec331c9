"""The Image Pixel module (PS3.3 C.7.6.3) of one instance, validated.

Built from the service's normalized keyword form (a mapping of DICOM keywords
to Python values, see service/dicom/normalize.py). Everything the decoders need
to know about the geometry and encoding of the pixel payload lives here, so that
the decoders never look at the attribute mapping themselves.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydicom.uid import UID, ExplicitVRLittleEndian

from service.pixels.errors import FrameRangeError, PixelDataError

log = logging.getLogger(__name__)

# PS3.3 C.7.6.3.1.2: the photometric interpretations this service decodes.
MONOCHROME = frozenset({"MONOCHROME1", "MONOCHROME2"})
ONE_SAMPLE = MONOCHROME | {"PALETTE COLOR"}
THREE_SAMPLES = frozenset({"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT",
                           "YBR_PARTIAL_420"})
# Integer pixel data only: 64-bit allocations exist for float pixel data alone.
SUPPORTED_BITS_ALLOCATED = (1, 8, 16, 32)


def _scalar(attrs: Mapping[str, Any], keyword: str) -> Any:
    """Return the single value of `keyword`, None when absent or empty.

    The keyword form gives scalars for VM 1 attributes, but a producer that
    kept a one-element list must not make us misread the value.
    """
    value = attrs.get(keyword)
    if isinstance(value, list):
        if len(value) != 1:
            raise PixelDataError(f"{keyword} must have exactly one value, got {len(value)}")
        value = value[0]
    return value


def _integer(attrs: Mapping[str, Any], keyword: str, default: int | None = None) -> int:
    value = _scalar(attrs, keyword)
    if value is None:
        if default is None:
            raise PixelDataError(f"{keyword} is missing; it is required to decode pixel data")
        return default
    if isinstance(value, bool):
        raise PixelDataError(f"{keyword} must be an integer, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise PixelDataError(f"{keyword} must be an integer, got {value!r}") from exc
    if not number.is_integer():
        raise PixelDataError(f"{keyword} must be an integer, got {value!r}")
    return int(number)


def _text(attrs: Mapping[str, Any], keyword: str, default: str | None = None) -> str:
    value = _scalar(attrs, keyword)
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            raise PixelDataError(f"{keyword} is missing; it is required to decode pixel data")
        return default
    if not isinstance(value, str):
        raise PixelDataError(f"{keyword} must be a string, got {value!r}")
    return value.strip()


@dataclass(frozen=True)
class PixelDescription:
    """Geometry and encoding of an instance's pixel data (PS3.3 C.7.6.3)."""

    rows: int
    columns: int
    samples_per_pixel: int
    number_of_frames: int
    bits_allocated: int
    bits_stored: int
    high_bit: int
    pixel_representation: int
    photometric_interpretation: str
    planar_configuration: int
    transfer_syntax_uid: str
    # VR of (7FE0,0010); only matters for 8-bit Explicit VR Big Endian data, which is
    # byte-swapped in 16-bit words when the VR is OW and never when it is OB (PS3.5 7.3,
    # A.3). The normalized attributes do not keep it: see needs_pixel_data_vr.
    pixel_data_vr: str = "OB"

    @classmethod
    def from_attributes(cls, attrs: Mapping[str, Any]) -> PixelDescription:
        """Validate the Image Pixel module in the keyword form `attrs`.

        Raises PixelDataError naming the attribute that is missing or
        inconsistent with the others.
        """
        rows = _integer(attrs, "Rows")
        columns = _integer(attrs, "Columns")
        bits_allocated = _integer(attrs, "BitsAllocated")
        bits_stored = _integer(attrs, "BitsStored")
        # HighBit is Type 1 but has only ever had one meaningful value.
        high_bit = _integer(attrs, "HighBit", bits_stored - 1)
        transfer_syntax = _text(attrs, "TransferSyntaxUID", "")
        if not transfer_syntax:
            # Google's exports carry (0002,0010); without it the payload is
            # assumed native little endian, which the byte count check guards.
            log.debug("TransferSyntaxUID absent; assuming Explicit VR Little Endian")
            transfer_syntax = ExplicitVRLittleEndian
        samples = _integer(attrs, "SamplesPerPixel")
        desc = cls(
            rows=rows,
            columns=columns,
            samples_per_pixel=samples,
            number_of_frames=_integer(attrs, "NumberOfFrames", 1),
            bits_allocated=bits_allocated,
            bits_stored=bits_stored,
            high_bit=high_bit,
            pixel_representation=_integer(attrs, "PixelRepresentation"),
            photometric_interpretation=_text(attrs, "PhotometricInterpretation"),
            # Type 1C, only present when SamplesPerPixel > 1.
            planar_configuration=_integer(attrs, "PlanarConfiguration", 0) if samples > 1 else 0,
            transfer_syntax_uid=transfer_syntax,
        )
        desc.validate()
        return desc

    def validate(self) -> None:
        """Raise PixelDataError if the attributes contradict each other."""
        if self.rows < 1 or self.columns < 1:
            raise PixelDataError(
                f"Rows and Columns must be positive, got {self.rows} x {self.columns}")
        if self.number_of_frames < 1:
            raise PixelDataError(f"NumberOfFrames must be at least 1, got {self.number_of_frames}")
        if self.bits_allocated not in SUPPORTED_BITS_ALLOCATED:
            raise PixelDataError(
                f"BitsAllocated {self.bits_allocated} is not supported "
                f"(expected one of {SUPPORTED_BITS_ALLOCATED})")
        if not 1 <= self.bits_stored <= self.bits_allocated:
            raise PixelDataError(
                f"BitsStored {self.bits_stored} must lie in 1..BitsAllocated "
                f"({self.bits_allocated})")
        if not self.bits_stored - 1 <= self.high_bit <= self.bits_allocated - 1:
            raise PixelDataError(
                f"HighBit {self.high_bit} must lie in BitsStored-1..BitsAllocated-1 "
                f"({self.bits_stored - 1}..{self.bits_allocated - 1})")
        if self.pixel_representation not in (0, 1):
            raise PixelDataError(
                f"PixelRepresentation must be 0 or 1, got {self.pixel_representation}")
        if self.planar_configuration not in (0, 1):
            raise PixelDataError(
                f"PlanarConfiguration must be 0 or 1, got {self.planar_configuration}")
        pi = self.photometric_interpretation
        if self.samples_per_pixel == 1:
            if pi not in ONE_SAMPLE:
                raise PixelDataError(
                    f"PhotometricInterpretation {pi!r} is inconsistent with SamplesPerPixel 1")
        elif self.samples_per_pixel == 3:
            if pi not in THREE_SAMPLES:
                raise PixelDataError(
                    f"PhotometricInterpretation {pi!r} is inconsistent with SamplesPerPixel 3")
            if self.bits_allocated == 1:
                raise PixelDataError("BitsAllocated 1 is only valid with SamplesPerPixel 1")
        else:
            raise PixelDataError(
                f"SamplesPerPixel must be 1 or 3, got {self.samples_per_pixel}")
        if not UID(self.transfer_syntax_uid).is_transfer_syntax:
            raise PixelDataError(
                f"TransferSyntaxUID {self.transfer_syntax_uid} is not a known transfer syntax")

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """Shape of one decoded frame: (rows, columns[, samples])."""
        if self.samples_per_pixel == 1:
            return (self.rows, self.columns)
        return (self.rows, self.columns, self.samples_per_pixel)

    @property
    def pixels_per_frame(self) -> int:
        return self.rows * self.columns * self.samples_per_pixel

    @property
    def is_encapsulated(self) -> bool:
        return UID(self.transfer_syntax_uid).is_encapsulated

    @property
    def needs_pixel_data_vr(self) -> bool:
        """Whether decoding depends on pixel_data_vr: 8-bit samples in a big endian syntax."""
        syntax = UID(self.transfer_syntax_uid)
        return self.bits_allocated == 8 and not syntax.is_little_endian \
            and not syntax.is_encapsulated

    def frame_indices(self, frames: Sequence[int] | None = None) -> list[int]:
        """0-based indices for the 1-based `frames` (None → every frame)."""
        if frames is None:
            return list(range(self.number_of_frames))
        indices = []
        for frame in frames:
            try:
                if isinstance(frame, bool):
                    raise TypeError
                frame = operator.index(frame)
            except TypeError as exc:
                raise FrameRangeError(f"frame numbers must be integers, got {frame!r}") from exc
            if not 1 <= frame <= self.number_of_frames:
                raise FrameRangeError(
                    f"frame {frame} is outside 1..{self.number_of_frames} (NumberOfFrames)")
            indices.append(frame - 1)
        if not indices:
            raise FrameRangeError("no frame requested")
        return indices
