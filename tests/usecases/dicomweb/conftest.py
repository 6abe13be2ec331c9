"""An emulator serving the shipped example study (1 SR + 24 CT slices, 512 × 512) and the
pydicom test files the other suites serve (native and RLE multi-frame RT Dose, JPEG 2000
MR, RLE MR, big-endian MR, JPEG baseline RGB), with a BulkDataClient aimed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.bulkdata.client import BulkDataClient
from service.cli.demo import write_example_files
from service.emulator.server import Emulator
from tests.support.dcm_files import copy_with_new_uids
from tests.support.emulated import (
    FAST_BACKOFF,
    emulated_settings,
    emulator_credentials,
    new_account,
)

TEST_FILES = ("rtdose.dcm", "rtdose_rle.dcm", "MR_small_jp2klossless.dcm", "MR_small_RLE.dcm",
              "MR_small_bigendian.dcm", "SC_rgb_jpeg_dcmtk.dcm", "CT_small.dcm")


@pytest.fixture(scope="session")
def dicom_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("retrieve-store")
    write_example_files(folder)
    for name in TEST_FILES:
        copy_with_new_uids(name, folder)
    return sorted(folder.glob("*.dcm"))


@pytest.fixture(scope="session")
def emulator(dicom_files: list[Path]) -> Iterator[Emulator]:
    with Emulator(dicom_files[0].parent, account=new_account()) as running:
        yield running


@pytest.fixture
def client(emulator: Emulator) -> Iterator[BulkDataClient]:
    made = BulkDataClient(emulated_settings(emulator), credentials=emulator_credentials(emulator),
                          **FAST_BACKOFF)
    yield made
    made.close()
