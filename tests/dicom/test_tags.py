"""dicom/tags: keys come from pydicom's dictionary, and an unknown keyword fails loudly."""

from __future__ import annotations

import pytest

from service.dicom import tags


def test_named_keys_are_dicom_json_keys() -> None:
    assert tags.STUDY_INSTANCE_UID == "0020000D"
    assert tags.PIXEL_DATA == "7FE00010"
    assert tags.SERIES_DESCRIPTION == "0008103E"


def test_unknown_keyword_is_refused() -> None:
    with pytest.raises(KeyError):
        tags.keyword_key("StudyInstanceUi")
