"""Demo mode: the example study served through the emulator, with nothing configured."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest

from service import create_app
from service.cli.demo import needs_demo, ready_banner, service_url, start_demo
from service.settings import Settings


@pytest.mark.parametrize("environ, adc_file, expected", [
    ({}, False, True),
    ({"GOOGLE_APPLICATION_CREDENTIALS": "/k.json"}, False, False),
    ({"DICOM_RESOLVER_HEALTHCARE_API_ROOT": "http://127.0.0.1:9"}, False, False),
    ({}, True, False),
    ({"GOOGLE_APPLICATION_CREDENTIALS": ""}, False, True),
])
def test_needs_demo(tmp_path, environ, adc_file, expected):
    if adc_file:
        adc = tmp_path / ".config" / "gcloud" / "application_default_credentials.json"
        adc.parent.mkdir(parents=True)
        adc.write_text("{}")
    assert needs_demo(environ, home=tmp_path) is expected


def test_needs_demo_honours_cloudsdk_config(tmp_path):
    (tmp_path / "application_default_credentials.json").write_text("{}")
    assert needs_demo({"CLOUDSDK_CONFIG": str(tmp_path)}, home=tmp_path / "elsewhere") is False


def test_demo_serves_the_example_study(tmp_path: Path, monkeypatch):
    settings = Settings.load(environ={}, database_url=f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    console = io.StringIO()
    workdir = tmp_path / "demo"
    with start_demo(settings, workdir, out=console) as handle:
        assert "DEMO MODE" in console.getvalue()
        assert "GOOGLE_APPLICATION_CREDENTIALS" in console.getvalue()
        files = sorted((workdir / "dicom").glob("*.dcm"))
        assert len(files) == 25
        for name, value in handle.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
        monkeypatch.setenv("NO_GCE_CHECK", "True")
        app = create_app(Settings.load(environ=handle.env, database_url=settings.database_url))
        try:
            assert app.extensions["settings"].healthcare_api_root == handle.emulator.api_root
            answer = handle.ingest(app.extensions["engine"])
            assert answer["received"] == 25
            assert handle.ingest(app.extensions["engine"])["unchanged"] == 25
            ds = next(d for d in map(pydicom.dcmread, files) if d.Modality == "CT")
            url = (f"/v1/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
                   f"/instances/{ds.SOPInstanceUID}/pixels")
            response = app.test_client().get(url)
            assert response.status_code == 200, response.json
            expected = (ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope)
                        + float(ds.RescaleIntercept)).astype(np.float32)
            np.testing.assert_array_equal(np.load(io.BytesIO(response.data)), expected)
        finally:
            app.extensions["bulkdata"].close()
            app.extensions["engine"].dispose()
    # A second start reuses the files instead of writing them again.
    stamps = {path: path.stat().st_mtime_ns for path in files}
    with start_demo(settings, workdir, out=io.StringIO()):
        assert {path: path.stat().st_mtime_ns for path in files} == stamps


@pytest.mark.parametrize(("bind", "url"), [
    ("127.0.0.1:8080", "http://127.0.0.1:8080"), ("0.0.0.0:9000", "http://127.0.0.1:9000"),
    ("[::1]:8081", "http://[::1]:8081"), ("[::]:8082", "http://127.0.0.1:8082"),
])
def test_service_url_of_a_bind(bind: str, url: str) -> None:
    assert service_url(bind) == url


def test_ready_banner_says_where_to_go_and_how_to_open_cors() -> None:
    from service.examples.shipped import load_example_dump

    study = load_example_dump()[0]["0020000D"]["Value"][0]
    banner = ready_banner("http://127.0.0.1:8123", {"studies": [study]})
    assert "already" in banner and "ingested" in banner and study in banner
    for line in ("http://127.0.0.1:8123/", "http://127.0.0.1:8123/dicomweb",
                 "DICOM_RESOLVER_DICOMWEB_CORS_ORIGINS=http://localhost:3000 make run"):
        assert line in banner
