"""Groupings of transfer syntaxes the service decides by.

The UIDs themselves are pydicom.uid's constants (ExplicitVRLittleEndian, …); only the
sets the service needs, and the media type of compressed frames, are defined here.
"""

from __future__ import annotations

from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
    UncompressedTransferSyntaxes,
)

# Pixel Data stored uncompressed: implicit/explicit little endian, deflated (deflate
# compresses the dataset, not the pixels) and explicit big endian.
UNCOMPRESSED: frozenset[str] = frozenset(UncompressedTransferSyntaxes)
# Uncompressed little endian as sent: a frame is a byte slice of Pixel Data, served as is.
NATIVE_LITTLE_ENDIAN: frozenset[str] = frozenset({ImplicitVRLittleEndian, ExplicitVRLittleEndian})
# Compressed transfer syntaxes and the media type of their frames (PS3.18 Table 8.7.3-2).
IMAGE_MEDIA_TYPES: dict[str, str] = {
    JPEGBaseline8Bit: "image/jpeg", JPEGExtended12Bit: "image/jpeg",
    JPEGLossless: "image/jpeg", JPEGLosslessSV1: "image/jpeg",
    JPEGLSLossless: "image/jls", JPEGLSNearLossless: "image/jls",
    JPEG2000Lossless: "image/jp2", JPEG2000: "image/jp2",
    HTJ2KLossless: "image/jphc", HTJ2KLosslessRPCL: "image/jphc", HTJ2K: "image/jphc",
    RLELossless: "image/dicom-rle",
}
