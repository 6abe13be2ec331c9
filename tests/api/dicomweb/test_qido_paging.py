"""QIDO-RS paging (§8.3.4.4), errors and CORS, over HTTP."""

from __future__ import annotations

import re

import requests
from dicomweb_client import DICOMwebClient

from tests.api.dicomweb.conftest import DEFAULT_LIMIT, MAX_LIMIT, ORIGIN
from tests.api.dicomweb.oracle import uids


def test_get_remaining_pages_across_the_cap_in_a_stable_order(dwc: DICOMwebClient,
                                                              server) -> None:  # type: ignore[no-untyped-def]
    everything = uids(dwc.search_for_studies(get_remaining=True))
    total = len(everything)
    assert total > 3 * MAX_LIMIT and len(set(everything)) == total
    paged = []
    for offset in range(0, total, 4):
        paged += uids(dwc.search_for_studies(limit=4, offset=offset))
    assert paged == everything  # same query, same order: pages are idempotent


def test_warning_names_the_additional_results(server) -> None:  # type: ignore[no-untyped-def]
    url = server.dicomweb + "/studies"
    total = len(requests.get(url, params={"limit": MAX_LIMIT}).json())
    everything = 0
    offset = 0
    while True:
        page = requests.get(url, params={"offset": offset})
        if page.status_code == 204:
            break
        everything += len(page.json())
        offset += len(page.json())
    first = requests.get(url)
    assert len(first.json()) == DEFAULT_LIMIT and total == MAX_LIMIT
    match = re.fullmatch(r'299 (\S+): There are (\d+) additional results that can be requested',
                         first.headers["Warning"])
    assert match and int(match.group(2)) == everything - DEFAULT_LIMIT
    over = requests.get(url, params={"limit": 1000})
    assert len(over.json()) == MAX_LIMIT
    assert f"There are {everything - MAX_LIMIT} additional" in over.headers["Warning"]
    asked = requests.get(url, params={"limit": 3})
    assert "Warning" not in asked.headers  # the client chose the page size
    last = requests.get(url, params={"offset": everything - 2})
    assert len(last.json()) == 2 and "Warning" not in last.headers
    past = requests.get(url, params={"offset": everything + 10})
    assert past.status_code == 204 and past.content == b""


def test_no_match_is_an_empty_array(server) -> None:  # type: ignore[no-untyped-def]
    answer = requests.get(server.dicomweb + "/studies", params={"PatientID": "NOBODY"})
    assert answer.status_code == 200 and answer.json() == []
    assert answer.headers["Content-Type"] == "application/dicom+json"


def test_bad_queries_name_the_key(server) -> None:  # type: ignore[no-untyped-def]
    for params, key in (({"NoSuchKeyword": "1"}, "NoSuchKeyword"),
                        ({"StudyDate": "2024-13"}, "StudyDate"),
                        ({"StudyInstanceUID": "1.2.x"}, "StudyInstanceUID"),
                        ({"limit": "ten"}, "limit"), ({"offset": "-1"}, "offset"),
                        ({"fuzzymatching": "maybe"}, "fuzzymatching"),
                        ({"SOPInstanceUID": "1.2"}, "SOPInstanceUID"),
                        ({"includefield": "NotAThing"}, "NotAThing"),
                        ({"InstanceNumber": "one"}, "InstanceNumber")):
        answer = requests.get(server.dicomweb + "/series", params=params)
        assert answer.status_code == 400, params
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json()["parameter"] == key
        assert key in answer.json()["detail"]


def test_xml_is_not_acceptable(server) -> None:  # type: ignore[no-untyped-def]
    answer = requests.get(server.dicomweb + "/studies",
                          headers={"Accept": 'multipart/related; type="application/dicom+xml"'})
    assert answer.status_code == 406


def test_unknown_study_is_404(server) -> None:  # type: ignore[no-untyped-def]
    assert requests.get(server.dicomweb + "/studies/1.2.3/series").status_code == 404


def test_cors_preflight_and_exposed_headers(server) -> None:  # type: ignore[no-untyped-def]
    preflight = requests.options(server.dicomweb + "/studies", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    answer = requests.get(server.dicomweb + "/studies", headers={"Origin": ORIGIN})
    exposed = answer.headers["Access-Control-Expose-Headers"]
    assert {"Warning", "ETag", "Content-Location"} <= {h.strip() for h in exposed.split(",")}
    stranger = requests.get(server.dicomweb + "/studies",
                            headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers
