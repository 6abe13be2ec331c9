"""lung_summary against a real dicom-resolver and a fake Google Healthcare API, both on
loopback, from the dicom-resolver[testing] pytest plugin (no conftest needed)."""

from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

import numpy as np
import pytest
from lung_summary import LUNG_HU, summarize_study
from lung_summary.app import make_app


def call(app, path: str) -> tuple[str, dict]:
    environ: dict = {"PATH_INFO": path, "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    seen: dict = {}
    body = b"".join(app(environ, lambda status, headers: seen.update(status=status)))
    return seen["status"], json.loads(body)


def test_every_ct_series_is_summarized(dicom_resolver) -> None:
    study = dicom_resolver.study_uids[0]
    ct = [ref for ref in dicom_resolver.instances if ref.modality == "CT"]
    [summary] = summarize_study(dicom_resolver.client, study)
    assert summary.series_uid == ct[0].series and summary.slices == len(ct)
    volume = dicom_resolver.client.volume(study, ct[0].series)
    in_lung = (volume.array >= LUNG_HU[0]) & (volume.array <= LUNG_HU[1])
    assert summary.lung_ml == pytest.approx(np.count_nonzero(in_lung) * summary.voxel_ml)
    assert 0 < summary.lung_ml < volume.array.size * summary.voxel_ml


def test_the_route_answers_json(dicom_resolver) -> None:
    app = make_app(dicom_resolver.client)
    status, body = call(app, f"/studies/{dicom_resolver.study_uids[0]}/lung")
    assert status == "200 OK" and len(body["series"]) == 1


def test_a_deleted_study_is_a_404(fresh_dicom_resolver) -> None:
    # fresh_dicom_resolver: the store is reset around this test, so the deletion stays here.
    study = fresh_dicom_resolver.study_uids[0]
    fresh_dicom_resolver.client.delete_study(study)
    status, body = call(make_app(fresh_dicom_resolver.client), f"/studies/{study}/lung")
    assert status == "404 Not Found" and body["detail"]
