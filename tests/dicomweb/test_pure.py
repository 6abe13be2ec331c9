"""The pure DICOMweb modules, table-driven (no server)."""

from __future__ import annotations

import pytest

from service.bulkdata.multipart_reader import parse_multipart
from service.dicomweb import matching, temporal_ranges, wado_accept
from service.dicomweb.multipart_writer import Part, write_multipart
from service.dicomweb.query import QueryError, parse_query
from service.dicomweb.uris import rewrite_bulkdata_uris


@pytest.mark.parametrize(("vr", "text", "expected"), [
    ("DA", "20240312", ("20240312", "20240312", False)),
    ("DA", "20240101-20241231", ("20240101", "20241231", True)),
    ("DA", "-20241231", (None, "20241231", True)),
    ("TM", "10", ("100000.000000", "105959.999999", False)),
    ("TM", "1015-", ("101500.000000", None, True)),
    ("DT", "2024", ("20240101000000.000000", "20241231235959.999999", False)),
    ("DA", "2024-13", None),
    ("TM", "25x", None),
])
def test_ranges(vr: str, text: str, expected) -> None:  # type: ignore[no-untyped-def]
    assert temporal_ranges.parse_range(vr, text) == expected


def _match(args: list[tuple[str, str]], dataset: dict, level: str = "instance") -> bool:
    query = parse_query(args, level, default_limit=10, max_limit=10)
    return matching.matches_all(dataset, query.matching, matching.Options.of(query))


NAME = {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Müller^Anna^^"}]}}
TYPE = {"00080008": {"vr": "CS", "Value": ["ORIGINAL", "PRIMARY", "AXIAL"]}}


@pytest.mark.parametrize(("args", "dataset", "expected"), [
    ([("PatientName", "MÜLLER^ANNA")], NAME, True),
    ([("PatientName", "mül*")], NAME, True),
    ([("PatientName", "mul*")], NAME, False),
    ([("PatientName", "mul an"), ("fuzzymatching", "true")], NAME, True),
    ([("PatientName", "anna mü"), ("fuzzymatching", "true")], NAME, True),
    ([("PatientName", "bob"), ("fuzzymatching", "true")], NAME, False),
    ([("ImageType", "AXIAL")], TYPE, False),
    ([("ImageType", "AXIAL"), ("multiplevaluematching", "true")], TYPE, True),
    ([("ImageType", "ORIGINAL\\PRIMARY\\AXIAL")], TYPE, True),
    ([("AccessionNumber", "A*")], {}, False),
    ([("AccessionNumber", "A*"), ("emptyvaluematching", "true")], {}, True),
    ([("AccessionNumber", "")], {}, True),
    ([("AccessionNumber", "a?c")], {"00080050": {"vr": "SH", "Value": ["ABC"]}}, False),
    ([("AccessionNumber", "A?C")], {"00080050": {"vr": "SH", "Value": ["ABC"]}}, True),
    ([("InstanceNumber", "3,4")], {"00200013": {"vr": "IS", "Value": [4]}}, True),
    ([("00200013", "5")], {"00200013": {"vr": "IS", "Value": [4]}}, False),
])
def test_matching(args, dataset, expected: bool) -> None:  # type: ignore[no-untyped-def]
    assert _match(args, dataset) is expected


def test_combined_date_time() -> None:
    study = {"00080020": {"vr": "DA", "Value": ["20240102"]},
             "00080030": {"vr": "TM", "Value": ["0830"]}}
    # Combined: 2 January 08:30 is inside 1 January 20:00 – 3 January 06:00 …
    assert _match([("StudyDate", "20240101-20240103"), ("StudyTime", "2000-0600")], study,
                  "study")
    assert not _match([("StudyDate", "20240101-20240103"), ("StudyTime", "2000-0600")],
                      {**study, "00080020": {"vr": "DA", "Value": ["20240103"]}}, "study")
    # Alone, a time range applies to every day.
    assert not _match([("StudyTime", "0900-1000")], study, "study")


@pytest.mark.parametrize(("args", "key"), [
    ([("Nope", "1")], "Nope"), ([("Modality", "CT")], "Modality"),
    ([("StudyDate", "20240101-2023")], "StudyDate"), ([("limit", "0")], "limit"),
    ([("PatientName.Foo", "x")], "PatientName.Foo"),
])
def test_query_errors_name_the_key(args, key: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError) as caught:
        parse_query(args, "study", default_limit=10, max_limit=10)
    assert caught.value.parameter == key


@pytest.mark.parametrize(("accept", "stored", "expected"), [
    (None, "1.2.840.10008.1.2.5", ("application/octet-stream", "1.2.840.10008.1.2.1", False)),
    ('multipart/related; type="*/*"', "1.2.840.10008.1.2.4.90",
     ("application/octet-stream", "1.2.840.10008.1.2.1", False)),
    ('multipart/related; type="application/octet-stream"; transfer-syntax=*',
     "1.2.840.10008.1.2.4.90", ("application/octet-stream", "1.2.840.10008.1.2.4.90", True)),
    ('multipart/related; type="image/jp2"', "1.2.840.10008.1.2.4.90",
     ("image/jp2", "1.2.840.10008.1.2.4.90", True)),
    ('multipart/related; type="image/jp2", multipart/related; type="application/octet-stream"',
     "1.2.840.10008.1.2.1", ("application/octet-stream", "1.2.840.10008.1.2.1", False)),
])
def test_frame_negotiation(accept, stored: str, expected) -> None:  # type: ignore[no-untyped-def]
    choice = wado_accept.choose_frames(accept, stored)
    assert (choice.part_type, choice.transfer_syntax, choice.stored) == expected


def test_frame_negotiation_refuses() -> None:
    with pytest.raises(wado_accept.NotAcceptableError):
        wado_accept.choose_frames('multipart/related; type="image/jp2"', "1.2.840.10008.1.2.1")


def test_multipart_round_trip_with_the_project_parser() -> None:
    parts = [Part(b"\x00\x01--x\r\n", "application/octet-stream"), Part(b"two", "image/jp2")]
    written = write_multipart(parts, "application/octet-stream")
    parsed = parse_multipart(written.body, written.content_type)
    assert [bytes(p.body) for p in parsed] == [b"\x00\x01--x\r\n", b"two"]


def test_rewrite_only_google_bulkdata_shapes() -> None:
    google = ('{"7FE00010":{"vr":"OW","BulkDataURI":"https://healthcare.googleapis.com/v1/'
              'projects/p/locations/l/datasets/d/dicomStores/s/dicomWeb/studies/1.2/series/'
              '1.3/instances/1.4/bulkdata/7FE00010"},"X":{"BulkDataURI":"https://else/a"}}')
    out = rewrite_bulkdata_uris(google.encode(), "http://me:8080/").decode()
    assert ('"BulkDataURI":"http://me:8080/dicomweb/studies/1.2/series/1.3/instances/1.4/'
            'bulkdata/7FE00010"') in out
    assert '"BulkDataURI":"https://else/a"' in out


@pytest.mark.parametrize(("accept", "multipart", "expected"), [
    (None, False, ("image/jpeg", False)),
    ("", True, ("image/jpeg", False)),
    ("*/*", True, ("image/jpeg", False)),
    ("image/png", False, ("image/png", False)),
    ("image/gif;q=1, image/png;q=0.5", False, ("image/png", False)),
    ("image/*", False, ("image/jpeg", False)),
    ('multipart/related; type="image/png"', True, ("image/png", True)),
    ('multipart/related; type="image/*"', True, ("image/jpeg", True)),
    ('multipart/related; type="image/png", image/jpeg;q=0.5', False, ("image/jpeg", False)),
])
def test_rendered_negotiation(accept: str | None, multipart: bool,
                              expected: tuple[str, bool]) -> None:
    assert wado_accept.choose_rendered(accept, multipart=multipart) == expected


@pytest.mark.parametrize(("accept", "multipart"), [
    ("image/gif", True), ('multipart/related; type="image/png"', False),
    ("image/png;q=0", False), ("application/dicom", True)])
def test_rendered_refusals(accept: str, multipart: bool) -> None:
    with pytest.raises(wado_accept.NotAcceptableError, match="image/jpeg"):
        wado_accept.choose_rendered(accept, multipart=multipart)
