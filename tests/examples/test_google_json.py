"""The DICOM JSON of generated instances, checked against pydicom reading it back."""

from __future__ import annotations

import re

import orjson
import pytest
from pydicom import Dataset
from pydicom.dataelem import DataElement

from service.examples.factory import (
    DEFAULT_API_ROOT,
    DEFAULT_STORE_PATH,
    StudySpec,
    dump_bytes,
    make_dump,
    make_study,
    to_google_json,
)

BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
URI = re.compile(
    r"^(?P<root>https://\S+)/(?P<store>projects/[^/]+/locations/[^/]+/datasets/[^/]+"
    r"/dicomStores/[^/]+)/dicomWeb/studies/(?P<study>[\d.]+)/series/(?P<series>[\d.]+)"
    r"/instances/(?P<sop>[\d.]+)/bulkdata/(?P<tag>[0-9A-F]{8})$"
)


def all_elements(ds: Dataset) -> dict[int, DataElement]:
    """Data set and file meta elements (without the group length) by tag."""
    elements = {int(elem.tag): elem for elem in ds.file_meta if elem.tag != 0x00020000}
    elements.update({int(elem.tag): elem for elem in ds})
    return elements


def test_round_trip_through_pydicom_from_json(small_study: list[Dataset]) -> None:
    for ds in small_study:
        originals = all_elements(ds)
        fetched: list[str] = []

        def bulk(
            tag: str, vr: str, uri: str, originals: dict = originals, fetched: list = fetched
        ) -> bytes:
            fetched.append(tag)
            return originals[int(tag, 16)].value

        parsed = Dataset.from_json(to_google_json(ds), bulk_data_uri_handler=bulk)
        assert set(parsed.keys()) == set(originals)
        for tag, original in originals.items():
            assert parsed[tag].VR == original.VR, original
            assert parsed[tag].value == original.value, original
        # Every binary value went through a BulkDataURI, even the 2 bytes of (0002,0001).
        assert {"00020001", "7FE00010", "00431028"} & set(fetched)
        assert len(fetched) == sum(1 for e in originals.values() if e.VR in BINARY_VRS)


def test_no_inline_binary_and_uris_name_the_instance(small_study: list[Dataset]) -> None:
    for ds, instance in zip(small_study, make_dump(small_study), strict=True):
        assert "InlineBinary" not in orjson.dumps(instance).decode()
        for tag, element in instance.items():
            if element["vr"] in BINARY_VRS:
                match = URI.match(element["BulkDataURI"])
                assert match, element
                assert match["root"] == DEFAULT_API_ROOT
                assert match["store"] == DEFAULT_STORE_PATH
                assert (match["study"], match["series"], match["sop"]) == (
                    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
                assert match["tag"] == tag


def test_api_root_and_store_path_are_used() -> None:
    ds = make_study(StudySpec(n_slices=1, rows=16, columns=16, with_report=False))[0]
    store = "projects/p/locations/l/datasets/d/dicomStores/s"
    instance = to_google_json(ds, api_root="http://127.0.0.1:8123/v1/", store_path=store)
    assert instance["7FE00010"]["BulkDataURI"].startswith(
        f"http://127.0.0.1:8123/v1/{store}/dicomWeb/studies/{ds.StudyInstanceUID}/")


def test_keys_sorted_at_every_level_and_tags_upper_case(small_study: list[Dataset]) -> None:
    def check(item: dict) -> None:
        assert list(item) == sorted(item)
        for tag, element in item.items():
            assert re.fullmatch(r"[0-9A-F]{8}", tag)
            if element["vr"] == "SQ":
                for nested in element.get("Value", []):
                    check(nested)

    for instance in make_dump(small_study):
        check(instance)


def test_file_meta_group_is_included(small_study: list[Dataset]) -> None:
    for ds in small_study:
        instance = to_google_json(ds)
        assert instance["00020010"]["Value"] == ["1.2.840.10008.1.2.1"]
        assert instance["00020002"]["Value"] == [ds.SOPClassUID]
        assert instance["00020003"]["Value"] == [ds.SOPInstanceUID]
        assert "00020000" not in instance


def test_ds_and_is_are_json_numbers(small_study: list[Dataset]) -> None:
    ct = to_google_json(small_study[1])
    assert ct["00281052"] == {"vr": "DS", "Value": [-1024]}
    assert ct["00281053"] == {"vr": "DS", "Value": [1]}
    assert ct["00200013"]["Value"] == [small_study[1].InstanceNumber]
    spacing = ct["00280030"]["Value"]
    assert spacing == [float(v) for v in small_study[1].PixelSpacing]
    assert all(isinstance(v, float) for v in spacing)


def test_pixel_uri_does_not_depend_on_generating_pixels() -> None:
    spec = StudySpec(n_slices=2, rows=32, columns=32)
    with_pixels = make_dump(make_study(spec))
    without = make_dump(make_study(StudySpec(n_slices=2, rows=32, columns=32, with_pixels=False)))
    assert with_pixels == without
    assert "7FE00010" in without[1]


def test_dump_bytes_is_the_json_array(small_study: list[Dataset]) -> None:
    assert orjson.loads(dump_bytes(small_study)) == make_dump(small_study)


@pytest.mark.parametrize("size", [512, 256])
def test_ct_instances_weigh_7_to_15_kb(size: int) -> None:
    datasets = make_study(StudySpec(n_slices=3, rows=size, columns=size, with_pixels=False))
    for instance in make_dump(datasets)[1:]:
        assert 7_000 <= len(orjson.dumps(instance)) <= 15_000
        assert 150 <= len(instance) <= 250


def test_private_creators_and_their_elements(small_study: list[Dataset]) -> None:
    ct = to_google_json(small_study[1])
    creators = {"00090010": "GEMS_IDEN_01", "00190010": "GEMS_ACQU_01",
                "00210010": "GEMS_RELA_01", "00270010": "GEMS_IMAG_01",
                "00430010": "GEMS_PARM_01"}
    for tag, creator in creators.items():
        assert ct[tag] == {"vr": "LO", "Value": [creator]}
        block = [t for t in ct if t[:4] == tag[:4] and t[4:6] == "10"]
        assert len(block) >= 5, creator
    # pydicom names the elements through its private dictionary.
    ds = small_study[1]
    assert ds.private_block(0x0019, "GEMS_ACQU_01")[0x23].name == "[Table Speed [mm/rotation]]"
    assert ds.private_block(0x0043, "GEMS_PARM_01")[0x27].value == "0.984:1"


def test_report_content_tree(small_study: list[Dataset]) -> None:
    report = to_google_json(small_study[0])
    assert report["00080016"]["Value"] == ["1.2.840.10008.5.1.4.1.1.88.11"]
    assert report["00080060"]["Value"] == ["SR"]
    assert report["0040A491"]["Value"] == ["COMPLETE"]
    assert report["0040A493"]["Value"] == ["VERIFIED"]
    assert report["0040A073"]["Value"][0]["0040A075"]["vr"] == "PN"
    assert report["0040A040"]["Value"] == ["CONTAINER"]
    items = report["0040A730"]["Value"]
    texts = [item["0040A160"]["Value"][0] for item in items if
             item["0040A040"]["Value"] == ["TEXT"]]
    assert any(text.startswith("FINDINGS: ") for text in texts)
    assert any(text.startswith("IMPRESSION: ") for text in texts)
    codes = [item for item in items if item["0040A040"]["Value"] == ["CODE"]]
    assert codes and codes[0]["0040A168"]["Value"][0]["00080102"]["Value"] == ["SCT"]
    # The evidence lists every image of the study.
    evidence = report["0040A375"]["Value"][0]["00081115"]["Value"][0]["00081199"]["Value"]
    assert [e["00081155"]["Value"][0] for e in evidence] == [
        ds.SOPInstanceUID for ds in small_study[1:]]
