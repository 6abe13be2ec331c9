"""Fixtures: a folder of pydicom-written .dcm files and a running emulator over it."""

from __future__ import annotations

import pytest

from service.emulator.server import Emulator
from tests.support import dcm_files
from tests.support.emulated import emulator_credentials, new_account


@pytest.fixture(scope="session")
def dicom_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dicom")
    return folder, dcm_files.write_folder(folder)


@pytest.fixture(scope="session")
def service_account_key():
    return new_account()


@pytest.fixture
def emulator(dicom_folder, service_account_key):
    folder, _ = dicom_folder
    with Emulator(folder, account=service_account_key) as running:
        yield running


@pytest.fixture
def instances(dicom_folder):
    return dicom_folder[1]


@pytest.fixture
def credentials(emulator):
    return emulator_credentials(emulator)
