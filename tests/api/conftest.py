"""Fixture dumps for the API tests, generated with the example factory (pydicom)."""

from __future__ import annotations

from tests.support.dumps import study_fixtures

# One SR report and six 64×64 CT slices.
study_datasets, study_dump, study_body = study_fixtures(n_slices=6)


def post_dump(client, body: bytes, content_type: str = "application/dicom+json", **headers):
    return client.post("/v1/dumps", data=body, content_type=content_type, headers=headers)
