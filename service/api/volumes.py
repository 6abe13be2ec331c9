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
from flask import Blueprint, Response, request

from service.api import bulkdata_client, engine, json_response, params, settings
from service.api.geometry import geometry_document, geometry_headers
from service.api.negotiation import PATIENT_DATA_HEADERS, negotiate, parse_dtype, reject_unknown
from service.errors import BadRequest, Unprocessable
from service.pixels.encode import npy_header
from service.pixels.volume_encode import nifti1_header, nrrd_header, stream_volume
from service.usecases.volumes.plan import load_layout, plan_volume
from service.usecases.volumes.slices import SliceStream
from service.usecases.volumes.types import VolumePlan, VolumeQuery

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
    reject_unknown(args, PARAMETERS)
    media_type = negotiate(args.get("format"), request.headers.get("Accept"), FORMATS, NPY)
    query = VolumeQuery(params.uid(study, "study"), params.uid(series, "series"),
                        parse_dtype(args.get("dtype")), _strict(args.get("strict")))
    plan = plan_volume(engine(), query)
    header = volume_header(plan, media_type)
    slices = SliceStream(bulkdata_client(), plan, settings().volume_fetch_concurrency).start()
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
    response.headers.update(PATIENT_DATA_HEADERS)
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


def _strict(value: str | None) -> bool:
    if value is None or value == "":
        return True
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise BadRequest("strict must be true or false", parameter="strict")
