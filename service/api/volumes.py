"""GET …/series/{series}/volume (npy, NRRD, NIfTI-1, streamed) and …/series/{series}/geometry.

The volume is planned (and refused with a problem body) before anything is sent,
the first window of slices is fetched, then the body streams slice by slice with
an exact Content-Length. A slice that fails after the first bytes were sent aborts
the connection: the client sees a short body, never a wrong array.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import orjson
from flask import Blueprint, Response, current_app, request

from service.api import engine, json_response, params, settings
from service.bulkdata.client import BulkDataClient
from service.pixels.encode import npy_header
from service.pixels.volume_encode import nifti1_header, nrrd_header, stream_volume
from service.problems import BadRequest, NotAcceptable, Unprocessable
from service.volumes import (
    SliceStream,
    VolumePlan,
    VolumeQuery,
    geometry_document,
    geometry_headers,
    load_layout,
    plan_volume,
)

log = logging.getLogger(__name__)

blueprint = Blueprint("volumes", __name__, url_prefix="/v1/studies")

NPY, NRRD, NIFTI = "application/x-npy", "application/x-nrrd", "application/x-nifti"
FORMATS = {"npy": NPY, "nrrd": NRRD, "nifti": NIFTI}
SUFFIXES = {NPY: "npy", NRRD: "nrrd", NIFTI: "nii"}
PARAMETERS = frozenset({"format", "dtype", "strict"})


@blueprint.get("/<study>/series/<series>/geometry")
def get_geometry(study: str, series: str) -> Response:
    layout = load_layout(engine(), params.uid(study, "study"), params.uid(series, "series"))
    return json_response(orjson.dumps(geometry_document(layout)))


@blueprint.get("/<study>/series/<series>/volume")
def get_volume(study: str, series: str) -> Response:
    args = request.args
    unknown = sorted(set(args) - PARAMETERS)
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}; parameters are "
                         f"{', '.join(sorted(PARAMETERS))}", parameter=unknown[0])
    media_type = negotiate(args.get("format"), request.headers.get("Accept"))
    query = VolumeQuery(params.uid(study, "study"), params.uid(series, "series"),
                        _dtype(args.get("dtype")), _strict(args.get("strict")))
    plan = plan_volume(engine(), query)
    header = volume_header(plan, media_type)
    client: BulkDataClient = current_app.extensions["bulkdata"]
    slices = SliceStream(client, plan, settings().volume_fetch_concurrency).start()
    shape, dtype = plan.shape, np.dtype(plan.dtype)
    body = _guarded(stream_volume(header, shape, dtype, slices), plan, slices)
    response = Response(body, mimetype=media_type, direct_passthrough=True)
    response.call_on_close(slices.close)  # also when the body is never iterated (HEAD)
    response.headers.update(geometry_headers(plan.layout.geometry))
    response.headers["Content-Length"] = str(len(header) + int(np.prod(shape)) * dtype.itemsize)
    response.headers["X-Shape"] = ",".join(str(size) for size in shape)
    response.headers["X-Dtype"] = dtype.str
    response.headers["Content-Disposition"] = \
        f'attachment; filename="{query.series_uid}.{SUFFIXES[media_type]}"'
    # Pixels are patient data: shared caches must not keep them.
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["Vary"] = "Accept"
    return response


def _guarded(chunks: Iterator[bytes], plan: VolumePlan, slices: SliceStream) -> Iterator[bytes]:
    """Pass chunks through; on failure log and re-raise, so the server drops the connection."""
    try:
        yield from chunks
    except Exception:
        log.error("volume of series %s aborted mid-stream; the connection is closed",
                  plan.layout.series_uid)
        raise
    finally:
        slices.close()


def volume_header(plan: VolumePlan, media_type: str) -> bytes:
    if media_type == NPY:
        return npy_header(plan.shape, plan.dtype)
    affine = plan.layout.geometry.affine_lps()
    if affine is None:
        raise Unprocessable(
            f"series {plan.layout.series_uid} has no patient geometry (ImagePositionPatient, "
            "ImageOrientationPatient, PixelSpacing) to write into NRRD or NIfTI; ask for npy.",
            parameter="format")
    if media_type == NRRD:
        return nrrd_header(plan.shape, plan.dtype, affine)
    return nifti1_header(plan.shape, plan.dtype, affine, description="dicom-resolver volume")


def negotiate(fmt: str | None, accept: str | None) -> str:
    """`format` wins; else the best of Accept; no Accept → npy; nothing acceptable → 406."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise BadRequest(f"format must be one of {', '.join(FORMATS)}", parameter="format")
        return FORMATS[fmt]
    if not accept or not accept.strip():
        return NPY
    best = request.accept_mimetypes.best_match([NPY, NRRD, NIFTI])
    if best is None:
        raise NotAcceptable(
            f"None of the accepted media types can be served; available: "
            f"{', '.join(FORMATS.values())} (or format={'|'.join(FORMATS)}).",
            available=list(FORMATS.values()))
    return best


def _dtype(value: str | None) -> str:
    if value is None or value == "":
        return "float32"
    if value not in ("float32", "int16"):
        raise BadRequest("dtype must be float32 or int16", parameter="dtype")
    return value


def _strict(value: str | None) -> bool:
    if value is None or value == "":
        return True
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise BadRequest("strict must be true or false", parameter="strict")
