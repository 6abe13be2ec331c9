"""DICOM JSON as Google Cloud Healthcare's DICOMweb metadata export gives it.

What Google does, and so what we do (PS3.18 F.2 plus Google's choices):
- the File Meta Information group (0002) is included, without group length;
- every non-empty binary value (OB, OD, OF, OL, OV, OW, UN), however small,
  including (0002,0001), is a BulkDataURI, never InlineBinary, of the form
  {api_root}/{store_path}/dicomWeb/studies/{study}/series/{series}/instances/{sop}/bulkdata/{TAG}
  with the tag as 8 upper-case hex digits (Google's retrieveBulkdata route);
- DS and IS are JSON numbers (integral DS values as integers);
- keys are sorted by tag, in nested items too.
The JSON of Pixel Data is only its URI, so an image generated without pixels
(`with_pixels=False`) gets the same JSON as one with pixels.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson
from pydicom import Dataset
from pydicom.dataelem import DataElement

from .spec import DEFAULT_API_ROOT, DEFAULT_STORE_PATH

PIXEL_DATA = "7FE00010"
FLOAT_PIXEL_DATA = frozenset({"7FE00008", "7FE00009"})  # Float, Double Float Pixel Data
_PLACEHOLDER = "bulkdata-placeholder:"


def instance_url(
    api_root: str, store_path: str, study_uid: str, series_uid: str, sop_uid: str
) -> str:
    """The DICOMweb URL of one instance in a Google DICOM store."""
    return (
        f"{api_root.rstrip('/')}/{store_path.strip('/')}/dicomWeb"
        f"/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"
    )


def element_json(ds: Dataset) -> dict[str, Any]:
    """PS3.18 F.2 JSON of `ds`'s elements (file meta excluded), URIs still placeholders."""
    return ds.to_json_dict(bulk_data_threshold=0, bulk_data_element_handler=_placeholder)


def file_meta_json(ds: Dataset) -> dict[str, Any]:
    """JSON of `ds.file_meta`, without the group length (it is meaningless in JSON)."""
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        return {}
    encoded = element_json(meta)
    encoded.pop("00020000", None)
    return encoded


def normalise(elements: dict[str, Any]) -> dict[str, Any]:
    """Sort keys (in nested items too) and turn integral DS values into integers."""
    return {tag: _normalise(elements[tag], nested=False) for tag in sorted(elements)}


def resolve(elements: dict[str, Any], url: str) -> dict[str, Any]:
    """Point every top-level BulkDataURI at `url`/bulkdata/{tag}; keys sorted."""
    if "00280010" in elements and not FLOAT_PIXEL_DATA.intersection(elements) \
            and PIXEL_DATA not in elements:
        # An image generated without pixels: Google would still point at them. (Not a
        # Float or Double Float Pixel Data image: it has its pixels under another tag.)
        elements[PIXEL_DATA] = {"vr": "OW", "BulkDataURI": _PLACEHOLDER}
    resolved: dict[str, Any] = {}
    for tag in sorted(elements):
        element = elements[tag]
        if "BulkDataURI" in element:
            element = {**element, "BulkDataURI": f"{url}/bulkdata/{tag}"}
        resolved[tag] = element
    return resolved


def finish(elements: dict[str, Any], url: str) -> dict[str, Any]:
    """Normalise raw pydicom JSON and resolve its BulkDataURIs against the instance URL."""
    return resolve(normalise(elements), url)


def to_google_json(
    ds: Dataset, *, api_root: str = DEFAULT_API_ROOT, store_path: str = DEFAULT_STORE_PATH
) -> dict[str, Any]:
    """The instance as one element of Google's `…/metadata` JSON array."""
    url = instance_url(
        api_root, store_path, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID
    )
    return finish({**file_meta_json(ds), **element_json(ds)}, url)


def make_dump(datasets: Iterable[Dataset], **kwargs: Any) -> list[dict[str, Any]]:
    """Google's metadata export of `datasets`, in order (kwargs go to to_google_json)."""
    return [to_google_json(ds, **kwargs) for ds in datasets]


def dump_bytes(datasets: Iterable[Dataset], *, indent: bool = False, **kwargs: Any) -> bytes:
    """The export as UTF-8 JSON bytes (compact, or indented by two spaces)."""
    return encode_dump(make_dump(datasets, **kwargs), indent=indent)


def encode_dump(dump: list[dict[str, Any]], *, indent: bool = False) -> bytes:
    """JSON bytes of an already built dump, with a trailing newline when indented."""
    if indent:
        return orjson.dumps(dump, option=orjson.OPT_INDENT_2) + b"\n"
    return orjson.dumps(dump)


def decode_dump(data: bytes | str) -> list[dict[str, Any]]:
    """Parse dump bytes (the inverse of `encode_dump`)."""
    parsed = orjson.loads(data) if isinstance(data, bytes) else json.loads(data)
    if not isinstance(parsed, list):
        raise ValueError("a dump is a JSON array of instances")
    return parsed


def _placeholder(element: DataElement) -> str:
    return _PLACEHOLDER


def _normalise(element: dict[str, Any], *, nested: bool) -> dict[str, Any]:
    out = dict(element)
    if "BulkDataURI" in out and nested:
        # Google's URI of a value inside a sequence is not modelled; never generate one.
        raise ValueError("binary values inside sequences are not supported by the generator")
    values = out.get("Value")
    if values is None:
        return out
    if out["vr"] == "SQ":
        out["Value"] = [
            {tag: _normalise(item[tag], nested=True) for tag in sorted(item)} for item in values
        ]
    elif out["vr"] == "DS":
        out["Value"] = [
            int(v) if isinstance(v, float) and v.is_integer() else v for v in values
        ]
    else:
        # Copy PN component objects too: the fast path shares a template between instances.
        out["Value"] = [dict(v) if isinstance(v, dict) else v for v in values]
    return out
