"""Fixtures: a folder of pydicom-written .dcm files and a running emulator over it
(tests/support/emulated.py)."""

from __future__ import annotations

from tests.support.emulated import folder_emulator_fixtures

dicom_folder, instances, service_account_key, emulator, credentials = folder_emulator_fixtures()
