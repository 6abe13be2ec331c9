"""The fast JSON-only paths agree with the full generator and vary what they promise."""

from __future__ import annotations

from collections import Counter

import pytest

from service.examples.factory import (
    StudySpec,
    make_ct_dump,
    make_dump,
    make_studies,
    make_study,
    studies_specs,
    study_dump,
)


def value(instance: dict, tag: str) -> object:
    element = instance.get(tag, {})
    values = element.get("Value") or [None]
    return values[0]


@pytest.mark.parametrize("spec", [
    StudySpec(n_slices=3, rows=16, columns=16),
    StudySpec(n_slices=6, rows=16, columns=16, n_series=2, localizer=True,
              shuffle_instance_numbers=True, missing_slices=(1,), duplicate_positions=(4,),
              oblique_degrees=10.0, vary_rescale=True, bits_stored=12, pixel_padding=True),
    StudySpec(modality="MR", n_slices=2, rows=16, columns=16, seed=9),
    StudySpec(n_slices=0),
], ids=["ct", "ct-all-variants", "mr", "report-only"])
def test_study_dump_equals_the_full_path(spec: StudySpec) -> None:
    assert study_dump(spec) == make_dump(make_study(spec))


def test_fast_instances_are_independent_objects() -> None:
    dump = make_ct_dump(3)
    dump[0]["00100010"]["Value"][0]["Alphabetic"] = "CHANGED"
    assert value(dump[1], "00100010") == {"Alphabetic": "SUMBERG^ANDREW^^MR."}
    # Results are cached per process, but a caller's changes never leak into the cache.
    assert value(make_ct_dump(3)[0], "00100010") == {"Alphabetic": "SUMBERG^ANDREW^^MR."}
    studies = make_studies(2)
    studies[0].clear()
    assert make_studies(2)[0]


def test_make_ct_dump_counts_series() -> None:
    dump = make_ct_dump(200, n_series=2, seed=4)
    assert len(dump) == 200
    assert Counter(value(i, "0020000E") for i in dump).most_common() [0][1] == 100
    assert {value(i, "00080060") for i in dump} == {"CT"}
    assert len({value(i, "00080018") for i in dump}) == 200
    assert value(dump[0], "00280010") == 512


def test_make_ct_dump_with_report_and_size() -> None:
    dump = make_ct_dump(5, with_report=True, rows=256, columns=256)
    assert [value(i, "00080060") for i in dump] == ["SR", "CT", "CT", "CT", "CT"]
    assert value(dump[1], "00280011") == 256
    with pytest.raises(ValueError):
        make_ct_dump(7, n_series=2)


def test_make_studies_varies_patients_dates_and_modalities() -> None:
    studies = make_studies(40, seed=2, slices_per_study=3)
    assert len(studies) == 40
    study_uids = [value(study[0], "0020000D") for study in studies]
    assert len(set(study_uids)) == 40
    for study in studies:
        assert len({value(i, "0020000D") for i in study}) == 1
    modalities = Counter(frozenset(value(i, "00080060") for i in study) for study in studies)
    assert {frozenset({"SR"}), frozenset({"CT", "SR"}), frozenset({"MR", "SR"}),
            frozenset({"CT"}), frozenset({"MR"})} <= set(modalities)
    patients = Counter(value(study[0], "00100020") for study in studies)
    assert max(patients.values()) >= 2  # some patients have several studies
    names = {value(study[0], "00100010")["Alphabetic"] for study in studies}
    assert len(names) >= 10
    years = {value(study[0], "00080020")[:4] for study in studies}
    assert len(years) >= 5
    assert len({value(study[0], "00080050") for study in studies}) == 40
    image_counts = {sum(value(i, "00080060") != "SR" for i in study) for study in studies}
    assert image_counts == {0, 3}


def test_make_studies_is_deterministic_and_regenerable() -> None:
    assert make_studies(6, seed=1) == make_studies(6, seed=1)
    assert make_studies(6, seed=1) != make_studies(6, seed=2)
    spec = studies_specs(6, seed=1)[2]
    assert make_dump(make_study(spec)) == make_studies(6, seed=1)[2]
