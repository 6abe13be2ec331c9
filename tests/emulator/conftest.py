"""Fixtures: a folder of pydicom-written .dcm files and a running emulator over it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from google.oauth2 import service_account

from service.emulator.keys import HEALTHCARE_SCOPE, ServiceAccount
from service.emulator.server import Emulator


def _load_dcm_fixtures():
    path = Path(__file__).with_name("dcm_fixtures.py")
    spec = importlib.util.spec_from_file_location("emulator_dcm_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


dcm_fixtures = _load_dcm_fixtures()


@pytest.fixture(scope="session")
def dicom_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dicom")
    return folder, dcm_fixtures.write_folder(folder)


@pytest.fixture(scope="session")
def service_account_key():
    return ServiceAccount.generate("demo-project")


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
    return service_account.Credentials.from_service_account_file(
        str(emulator.key_file), scopes=[HEALTHCARE_SCOPE])
