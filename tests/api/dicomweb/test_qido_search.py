"""QIDO-RS through dicomweb-client: every level, every kind of matching, against pydicom."""

from __future__ import annotations

import fnmatch

import pydicom
import pytest
from dicomweb_client import DICOMwebClient

from tests.api.dicomweb.oracle import Oracle, read, uids


@pytest.fixture(scope="module")
def oracle(corpus) -> Oracle:  # type: ignore[no-untyped-def]
    return Oracle(corpus.all_instances())


def test_every_level_lists_everything_once(dwc: DICOMwebClient, oracle: Oracle) -> None:
    studies = dwc.search_for_studies(get_remaining=True)
    series = dwc.search_for_series(get_remaining=True)
    instances = dwc.search_for_instances(get_remaining=True)
    assert sorted(uids(studies)) == sorted(oracle.by_study)
    assert sorted(uids(series, "0020000E")) == sorted(oracle.by_series)
    assert sorted(uids(instances, "00080018")) == sorted(ds.SOPInstanceUID
                                                         for ds in oracle.datasets)


def test_study_computed_attributes(dwc: DICOMwebClient, oracle: Oracle) -> None:
    for result in dwc.search_for_studies(get_remaining=True):
        ds = read(result)
        items = oracle.by_study[ds.StudyInstanceUID]
        assert ds.NumberOfStudyRelatedInstances == len(items)
        assert ds.NumberOfStudyRelatedSeries == len({i.SeriesInstanceUID for i in items})
        modalities = ds.ModalitiesInStudy
        modalities = [modalities] if isinstance(modalities, str) else list(modalities)
        assert sorted(modalities) == sorted({i.Modality for i in items})
        assert ds.PatientID == items[0].PatientID
        assert ds.RetrieveURL.endswith(f"/dicomweb/studies/{ds.StudyInstanceUID}")
        assert "SeriesInstanceUID" not in ds and "SOPInstanceUID" not in ds


def test_series_and_instance_levels_carry_parents_only_when_unscoped(
        dwc: DICOMwebClient, corpus, oracle: Oracle) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, _ = corpus.uids("ct1")
    everywhere = read(next(r for r in dwc.search_for_series(
        search_filters={"SeriesInstanceUID": series_uid})))
    assert everywhere.PatientID == oracle.by_series[series_uid][0].PatientID
    assert everywhere.NumberOfSeriesRelatedInstances == len(oracle.by_series[series_uid])
    scoped = read(dwc.search_for_series(study_instance_uid=study_uid,
                                        search_filters={"SeriesInstanceUID": series_uid})[0])
    assert "PatientID" not in scoped and scoped.Modality == "CT"
    in_series = dwc.search_for_instances(study_instance_uid=study_uid,
                                         series_instance_uid=series_uid)
    first = read(in_series[0])
    assert "PatientID" not in first and "SeriesInstanceUID" not in first
    assert [read(r).InstanceNumber for r in in_series] == sorted(
        ds.InstanceNumber for ds in oracle.by_series[series_uid])
    in_study = read(dwc.search_for_instances(study_instance_uid=study_uid)[0])
    assert "SeriesInstanceUID" in in_study and "PatientID" not in in_study


@pytest.mark.parametrize(("filters", "predicate"), [
    ({"PatientID": "PAT-0300007"}, lambda ds: ds.PatientID == "PAT-0300007"),
    ({"00100020": "PAT-0300007"}, lambda ds: ds.PatientID == "PAT-0300007"),
    ({"PatientName": "smith*"},
     lambda ds: fnmatch.fnmatchcase(str(ds.PatientName).upper(), "SMITH*")),
    ({"PatientName": "*an?a*"},
     lambda ds: fnmatch.fnmatchcase(str(ds.PatientName).upper(), "*AN?A*")),
    ({"StudyDate": "20180101-20201231"}, lambda ds: "20180101" <= ds.StudyDate <= "20201231"),
    ({"StudyDate": "-20161231"}, lambda ds: ds.StudyDate <= "20161231"),
    ({"StudyDate": "20220101-"}, lambda ds: ds.StudyDate >= "20220101"),
    ({"StudyDate": "20150101-20241231", "StudyTime": "120000-"},
     lambda ds: ("20150101", "120000") <= (ds.StudyDate, ds.StudyTime[:6])),
    ({"AccessionNumber": "ACC-03*"}, lambda ds: ds.AccessionNumber.startswith("ACC-03")),
    ({"AccessionNumber": "acc-*"}, lambda ds: ds.AccessionNumber.startswith("acc-")),
    ({"ModalitiesInStudy": ["MR", "RTDOSE"]}, None),
    ({"ReferringPhysicianName": "HOUSE*"},
     lambda ds: str(ds.get("ReferringPhysicianName", "")).startswith("HOUSE")),
    ({"StudyID": "4010"}, lambda ds: ds.get("StudyID") == "4010"),
    ({"PatientSex": "F"}, lambda ds: ds.get("PatientSex") == "F"),
])
def test_study_matching(dwc: DICOMwebClient, oracle: Oracle, filters, predicate) -> None:  # type: ignore[no-untyped-def]
    if predicate is None:  # ModalitiesInStudy: any series of the study
        expected = {uid for uid, items in oracle.by_study.items()
                    if {i.Modality for i in items} & {"MR", "RTDOSE"}}
    else:
        expected = oracle.studies_where(predicate)
    found = uids(dwc.search_for_studies(search_filters=filters, get_remaining=True))
    assert len(found) == len(set(found))
    assert set(found) == expected
    assert expected, "the case should select something"
    if len(expected) < len(oracle.by_study):
        assert len(found) < len(oracle.by_study)


def test_uid_lists_as_commas_and_repeated_keys(dwc: DICOMwebClient, oracle: Oracle) -> None:
    chosen = sorted(oracle.by_study)[:3]
    by_commas = dwc.search_for_studies(search_filters={"StudyInstanceUID": ",".join(chosen)})
    repeated = dwc.search_for_studies(search_filters={"StudyInstanceUID": chosen})
    assert sorted(uids(by_commas)) == sorted(uids(repeated)) == chosen


def test_modality_or_is_not_last_wins(dwc: DICOMwebClient, oracle: Oracle) -> None:
    found = dwc.search_for_series(search_filters={"Modality": ["SR", "MR"]}, get_remaining=True)
    assert set(uids(found, "0020000E")) == oracle.series_where(
        lambda ds: ds.Modality in ("SR", "MR"))
    assert {read(r).Modality for r in found} == {"SR", "MR"}


def test_sequence_matching_key(dwc: DICOMwebClient, oracle: Oracle) -> None:
    target = next(ds for ds in oracle.datasets if "RequestAttributesSequence" in ds)
    step = target.RequestAttributesSequence[0].ScheduledProcedureStepID
    expected = oracle.series_where(lambda ds: any(
        item.get("ScheduledProcedureStepID") == step
        for item in ds.get("RequestAttributesSequence", [])))
    for key in ("RequestAttributesSequence.ScheduledProcedureStepID", "00400275.00400009"):
        found = dwc.search_for_series(search_filters={key: step}, get_remaining=True)
        assert set(uids(found, "0020000E")) == expected
        assert read(found[0]).RequestAttributesSequence[0].ScheduledProcedureStepID == step


def test_instance_level_keys(dwc: DICOMwebClient, corpus, oracle: Oracle) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, _ = corpus.uids("ct1")
    found = dwc.search_for_instances(study_uid, series_uid,
                                     search_filters={"InstanceNumber": "2,3"})
    assert sorted(read(r).InstanceNumber for r in found) == [2, 3]
    sop_class = oracle.by_series[series_uid][0].SOPClassUID
    everywhere = dwc.search_for_instances(search_filters={"SOPClassUID": sop_class},
                                          get_remaining=True)
    assert len(everywhere) == sum(ds.SOPClassUID == sop_class for ds in oracle.datasets)


def test_fuzzy_person_names(dwc: DICOMwebClient, corpus) -> None:  # type: ignore[no-untyped-def]
    study_uid = corpus.uids("other1")[0]
    assert dwc.search_for_studies(search_filters={"PatientName": "mull ann"}) == []
    fuzzy = dwc.search_for_studies(search_filters={"PatientName": "mull ann"},
                                   fuzzymatching=True)
    assert uids(fuzzy) == [study_uid]
    exact = dwc.search_for_studies(search_filters={"PatientName": "müller^anna^^ms."})
    assert uids(exact) == [study_uid]


def test_empty_value_matching(dwc: DICOMwebClient, oracle: Oracle) -> None:
    # The RT Dose and the JPEG 2000 MR have no AccessionNumber value.
    without = oracle.studies_where(lambda ds: not ds.get("AccessionNumber"))
    matching = oracle.studies_where(lambda ds: str(ds.get("AccessionNumber", ""))
                                    .startswith("ACC-0300001"))
    assert without and matching
    plain = dwc.search_for_studies(search_filters={"AccessionNumber": "ACC-0300001*"},
                                   get_remaining=True)
    assert set(uids(plain)) == matching
    empty = dwc.search_for_studies(search_filters={"AccessionNumber": "ACC-0300001*"},
                                   additional_params={"emptyvaluematching": "true"},
                                   get_remaining=True)
    assert set(uids(empty)) == matching | without


def test_multiple_value_matching(dwc: DICOMwebClient, oracle: Oracle) -> None:
    expected = {ds.SOPInstanceUID for ds in oracle.datasets
                if "ORIGINAL" in list(ds.get("ImageType", []))}
    whole = dwc.search_for_instances(search_filters={"ImageType": "ORIGINAL"},
                                     get_remaining=True)
    assert whole == []  # ImageType is multi-valued: as a whole it is never just ORIGINAL
    anyone = dwc.search_for_instances(search_filters={"ImageType": "ORIGINAL"},
                                      additional_params={"multiplevaluematching": "true"},
                                      get_remaining=True)
    assert set(uids(anyone, "00080018")) == expected and expected
    joined = dwc.search_for_instances(search_filters={"ImageType": "ORIGINAL\\PRIMARY*"},
                                      get_remaining=True)
    assert set(uids(joined, "00080018")) == {
        ds.SOPInstanceUID for ds in oracle.datasets
        if list(ds.get("ImageType", []))[:2] == ["ORIGINAL", "PRIMARY"]}


def test_includefield(dwc: DICOMwebClient, corpus, oracle: Oracle) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, sop_uid = corpus.uids("ct1")
    default = dwc.search_for_studies(search_filters={"StudyInstanceUID": study_uid})[0]
    assert "00081030" not in default  # StudyDescription: not a required return key
    named = dwc.search_for_studies(search_filters={"StudyInstanceUID": study_uid},
                                   fields=["StudyDescription", "00101010"])[0]
    assert read(named).StudyDescription == oracle.by_study[study_uid][0].StudyDescription
    assert read(named).PatientAge == oracle.by_study[study_uid][0].PatientAge
    every = read(dwc.search_for_studies(search_filters={"StudyInstanceUID": study_uid},
                                        fields=["all"])[0])
    source = oracle.by_study[study_uid][1]  # a CT slice: the study level of any instance
    for element in source:
        if element.tag.group == 0x0010 or element.keyword in ("StudyDescription",
                                                               "AccessionNumber", "StudyID"):
            assert every[element.tag].value == element.value, element.keyword
    private = dwc.search_for_instances(study_uid, series_uid,
                                       search_filters={"SOPInstanceUID": sop_uid},
                                       fields=["00431028"])[0]
    slice_ds = next(ds for ds in oracle.by_series[series_uid] if ds.SOPInstanceUID == sop_uid)
    private_tags = [tag for tag in private if int(tag[:4], 16) % 2]
    if (0x0043, 0x1028) in slice_ds:
        assert sorted(private_tags) == ["00430010", "00431028"]
        assert read(private)[0x00430010].value == slice_ds[0x00430010].value
    else:
        pytest.fail("the factory's CT slices carry GEMS private tags")


def test_search_answer_is_dicom_json_pydicom_reads(dwc: DICOMwebClient) -> None:
    for result in dwc.search_for_instances(fields=["all"], get_remaining=True):
        ds = pydicom.Dataset.from_json(result, bulk_data_uri_handler=lambda *_: b"")
        assert ds.SOPInstanceUID
