"""The QIDO level JSON built with each record (dicomweb.levels.level_json, merge_study_json)."""

from __future__ import annotations

import orjson

from service.dicom import tags
from service.dicom.json_model import ExactFloat
from service.dicomweb import levels
from service.examples.factory import StudySpec, make_dump, make_study


def test_each_level_keeps_its_own_keys_and_the_common_ones() -> None:
    for instance in make_dump(make_study(StudySpec(seed=7, n_slices=2))):
        study_json, series_json = levels.level_json(instance)
        study, series = orjson.loads(study_json), orjson.loads(series_json)
        common = {key for key in levels.COMMON if key in instance}
        assert set(study) == {k for k in instance if levels.level_of(k) == levels.STUDY}
        assert set(series) == ({k for k in instance if levels.level_of(k) == levels.SERIES}
                               | common)
        assert all(study[key] == instance[key] for key in study)
        assert all(series[key] == instance[key] for key in series)
        assert tags.STUDY_INSTANCE_UID in study and tags.SERIES_INSTANCE_UID in series
        assert tags.SOP_INSTANCE_UID not in study and tags.SOP_INSTANCE_UID not in series


def test_an_exact_number_is_written_as_orjson_reads_its_text() -> None:
    weight = tags.keyword_key("PatientWeight")
    study_json, _ = levels.level_json({weight: {"vr": "DS", "Value": [ExactFloat("70.50")]}})
    assert study_json == orjson.dumps({weight: {"vr": "DS", "Value": [70.5]}})


def test_merge_adds_only_what_the_study_lacks() -> None:
    study = orjson.dumps({tags.STUDY_DATE: {"vr": "DA", "Value": ["20240101"]}})
    same = orjson.dumps({tags.STUDY_DATE: {"vr": "DA", "Value": ["19990101"]}})
    assert levels.merge_study_json(study, same) is study
    other = orjson.dumps({tags.ACCESSION_NUMBER: {"vr": "SH", "Value": ["A1"]}})
    merged = orjson.loads(levels.merge_study_json(study, other))
    assert merged == {tags.ACCESSION_NUMBER: {"vr": "SH", "Value": ["A1"]},
                      tags.STUDY_DATE: {"vr": "DA", "Value": ["20240101"]}}
    assert list(merged) == sorted(merged)
