"""Real DICOMweb clients nobody here wrote, end to end against the service: OHIF (the npm
build, in headless Chromium) and Orthanc (Debian's server with its DICOMweb plugin).

Demo-like data: the shipped example study is ingested into the test's store (SQLite, or a
fresh PostgreSQL schema when DICOM_RESOLVER_TEST_DATABASE_URL is set), its .dcm files are
served by the Healthcare API emulator, and the service runs on a loopback port (werkzeug,
threaded). The heavy parts (emulator, Chromium, the viewer's static server, Orthanc) live
for the session; each test gets its own service and store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pydicom
import pytest

from service.cli.demo import DemoHandle
from tests.clients.served import ExampleStudy, Exchange, ExchangeRecorder, Service
from tests.support.demo import demo_app, running_demo
from tests.support.net import serving


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoHandle]:
    """The demo mode's emulator: the example study's .dcm files on a loopback Healthcare API."""
    with running_demo(tmp_path_factory.mktemp("clients-demo")) as handle:
        yield handle


@pytest.fixture(scope="session")
def example_files(demo: DemoHandle) -> dict[str, Path]:
    """SOP Instance UID → the .dcm file the emulator serves for it."""
    files = {}
    for path in sorted((demo.workdir / "dicom").glob("*.dcm")):
        files[str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)] = path
    return files


@pytest.fixture(scope="session")
def example(example_files: dict[str, Path]) -> ExampleStudy:
    """The example study's UIDs and report text, as pydicom reads the emulator's files."""
    datasets = [pydicom.dcmread(path) for path in example_files.values()]
    ct = [ds for ds in datasets if ds.Modality == "CT"]
    sr = [ds for ds in datasets if ds.Modality == "SR"]

    def texts(items: pydicom.Sequence) -> list[str]:
        found = []
        for item in items:
            if "TextValue" in item:
                found.append(str(item.TextValue))
            found.extend(texts(item.get("ContentSequence", [])))
        return found

    return ExampleStudy(
        study=str(ct[0].StudyInstanceUID), ct_series=str(ct[0].SeriesInstanceUID),
        sr_series=str(sr[0].SeriesInstanceUID),
        ct=tuple(str(ds.SOPInstanceUID) for ds in ct),
        sr=tuple(str(ds.SOPInstanceUID) for ds in sr),
        report_text=tuple(text for ds in sr for text in texts(ds.ContentSequence)))


@pytest.fixture
def start_service(demo: DemoHandle, database_url: str,
                  example_files: dict[str, Path]) -> Iterator[Callable[..., Service]]:
    """Start the service (example study ingested, settings overridable) for this test."""
    with ExitStack() as started:
        def start(**overrides: object) -> Service:
            app = demo_app(demo, started, database_url, migrate_on_start=True, **overrides)
            exchanges: list[Exchange] = []
            recorder = ExchangeRecorder(app, exchanges)
            server = started.enter_context(serving(app, name="clients-test-service"))
            started.callback(recorder.wait_idle)  # first at the end: answers finish
            return Service(f"http://127.0.0.1:{server.server_port}", app, example_files,
                           exchanges)

        yield start
