"""The HTTP surface under hostile or unusual requests: OPTIONS on every route, integers
beyond 64 bits, and paths no route has — always a sane answer, never a 500."""

from __future__ import annotations

import pytest
from flask import Flask

from service.api.unrouted import describe_missing, parse_template
from tests.support.routes import routes

PROBLEM = "application/problem+json"
BEYOND_64_BITS = (str(2**63), str(2**64), str(-(2**63) - 1), "1" + "0" * 40)


def test_every_route_answers_options(hardened_app: Flask, values: dict) -> None:
    client = hardened_app.test_client()
    all_routes = routes(hardened_app, values)
    assert any(route.rule == "/v1/dumps" for route in all_routes)
    for route in all_routes:
        answer = client.options(route.url)
        assert answer.status_code == 200, (route.rule, answer.status_code, answer.data[:200])
        allowed = {method.strip() for method in answer.headers["Allow"].split(",")}
        assert route.methods <= allowed, route.rule
    # The automatic answer is not an ingest: the metrics hook does not count it.
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'dicom_resolver_ingest_dumps_total{outcome="error"}' not in metrics
    unknown = client.options("/v1/no-such-thing")
    assert unknown.status_code == 404 and unknown.content_type == PROBLEM


SEARCHES = ("/dicomweb/instances", "/dicomweb/studies/{study}/instances",
            "/dicomweb/studies/{study}/series/{series}/instances")


@pytest.mark.parametrize("search", SEARCHES)
@pytest.mark.parametrize("name", ["offset", "limit", "InstanceNumber", "00200013",
                                  "SeriesNumber", "Rows"])
def test_integers_beyond_64_bits_are_a_400_naming_the_parameter(
        hardened_app: Flask, values: dict, search: str, name: str) -> None:
    client = hardened_app.test_client()
    url = search.format(**values)
    for number in BEYOND_64_BITS:
        answer = client.get(url, query_string={name: number})
        assert answer.status_code == 400, (name, number, answer.data[:300])
        assert answer.content_type == PROBLEM
        problem = answer.get_json()
        assert problem["parameter"] == name and name in problem["detail"]


def test_integers_within_64_bits_are_searched(hardened_app: Flask, values: dict,
                                              study_datasets: list) -> None:
    client = hardened_app.test_client()
    images = [ds for ds in study_datasets if "InstanceNumber" in ds]
    for name in ("InstanceNumber", "00200013"):
        wanted = images[0].InstanceNumber
        hit = client.get("/dicomweb/instances", query_string={name: wanted})
        assert hit.status_code == 200
        assert {item["00080018"]["Value"][0] for item in hit.get_json()} == \
            {ds.SOPInstanceUID for ds in images if ds.InstanceNumber == wanted}
        for extreme in (str(2**62), str(-(2**63)), "-1"):
            miss = client.get("/dicomweb/instances", query_string={name: extreme})
            assert miss.status_code == 200 and miss.get_json() == [], extreme
    past = client.get("/dicomweb/instances", query_string={"offset": 2**31 - 1})
    assert past.status_code == 204
    for name in ("InstanceNumber", "SliceThickness"):
        for text in ("nan", "inf", "-Infinity", "1e400"):
            answer = client.get("/dicomweb/instances", query_string={name: text})
            assert answer.status_code == 400 and answer.get_json()["parameter"] == name


@pytest.mark.parametrize(("path", "said", "offered"), [
    ("/dicomweb/nothing", "'nothing' under /dicomweb", "studies"),
    ("/dicomweb/studies/{study}/nothing", "'nothing' under /dicomweb/studies/{{study}}",
     "metadata"),
    ("/dicomweb/studies/{study}/series/{series}/instances/{instance}/frames",
     "/frames is not a resource of this service; below it there is: {{frame_list}}",
     "{frame_list}"),
    ("/dicomweb/workitems", "UPS-RS", "studies"),
    ("/dicomweb/studies/", "no trailing slash", None),
    ("/v1/nothing", "'nothing' under /v1", "dumps"),
    ("/v1/studies/{study}/series/{series}/frames", "'frames' under "
     "/v1/studies/{{study}}/series/{{series}}", "volume"),
])
def test_paths_no_route_has_are_a_404_naming_what_is_not_there(
        hardened_app: Flask, values: dict, path: str, said: str, offered: str | None) -> None:
    answer = hardened_app.test_client().get(path.format(**values))
    assert answer.status_code == 404 and answer.content_type == PROBLEM
    problem = answer.get_json()
    assert said.format() in problem["detail"], problem
    assert offered is None or offered in problem["available"]
    assert str(values["study"]) not in problem["detail"]  # templates, not the values


def test_a_view_404_keeps_its_own_detail(hardened_app: Flask) -> None:
    answer = hardened_app.test_client().get("/v1/studies/1.2.3.4")
    assert answer.status_code == 404 and "1.2.3.4" in answer.get_json()["detail"]


def test_describe_missing_never_echoes_odd_segments() -> None:
    templates = [parse_template(rule) for rule in ("/v1/studies", "/v1/studies/<study>")]
    described = describe_missing("/v1/SMITH^JOHN 1942", templates)
    assert "SMITH" not in str(described) and "segment 2" in described["detail"]
    assert described["available"] == ["studies"]
    assert "'studies'" not in describe_missing("/v1/studies/1.2/x", templates)["detail"]
    assert describe_missing("/", templates)["available"] == ["v1"]


@pytest.mark.parametrize("search", ["/dicomweb/series", "/dicomweb/instances",
                                    "/dicomweb/studies/{study}/instances"])
def test_modalities_in_study_matches_below_the_study_level(
        hardened_app: Flask, values: dict, study_datasets: list, search: str) -> None:
    """Was a 500 (the EXISTS subquery correlated the outer series table away)."""
    client = hardened_app.test_client()
    level_uid = "0020000E" if search == "/dicomweb/series" else "00080018"
    for asked, study_has in (("CT", True), ("MR", False), ("MR,SR", True)):
        answer = client.get(search.format(**values),
                            query_string={"ModalitiesInStudy": asked, "limit": 100})
        assert answer.status_code == 200
        found = {item[level_uid]["Value"][0] for item in answer.get_json()}
        expected = {str(ds.SeriesInstanceUID if level_uid == "0020000E" else ds.SOPInstanceUID)
                    for ds in study_datasets} if study_has else set()
        assert found == expected, asked


def test_stow_rs_is_a_405_pointing_at_the_dump_route(hardened_app: Flask) -> None:
    answer = hardened_app.test_client().post("/dicomweb/studies", data=b"--x--",
                                             content_type="multipart/related")
    assert answer.status_code == 405 and answer.content_type == PROBLEM
    assert "STOW-RS is not supported" in answer.get_json()["detail"]
    assert "/v1/dumps" in answer.get_json()["detail"]
    assert {m.strip() for m in answer.headers["Allow"].split(",")} >= {"GET", "HEAD"}
    other = hardened_app.test_client().delete("/v1/dumps")
    assert other.status_code == 405 and "POST" in other.get_json()["detail"]
