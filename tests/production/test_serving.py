"""The service as deployed: the Dockerfile's command, gunicorn.conf.py, JSON logs without
patient data, metrics summed over workers, refusal to serve unauthenticated in the open."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import requests
from prometheus_client.parser import text_string_to_metric_families

from dicom_resolver_testing.stack import free_port
from service.examples.factory import StudySpec, make_dump, make_study
from tests.support.gunicorn import CLI, REPO, ServiceProcess, serve

PATIENT_NAME = "QZXWERTY^SECRETNAME"
PATIENT_ID = "QZX-PID-7345901"
API_KEY = "sk-test-9f8e7d6c5b4a-SECRETKEY"
JSON = {"Content-Type": "application/dicom+json"}


def dockerfile() -> tuple[list[str], dict[str, str], str]:
    """CMD (exec form), ENV and the HEALTHCHECK command of the Dockerfile."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    runtime = text.split("\nFROM ")[-1]  # the last stage is the image
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", runtime, re.M).group(1))
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.*)$", runtime, re.M):
        env.update(item.split("=", 1) for item in shlex.split(line))
    healthcheck = re.search(r"^HEALTHCHECK .*? CMD (.*)$", runtime, re.M).group(1)
    return cmd, env, healthcheck


def image_workdir(tmp_path: Path) -> Path:
    """What the image's WORKDIR holds: gunicorn.conf.py (COPY'd by the Dockerfile)."""
    workdir = tmp_path / "home-resolver"
    workdir.mkdir()
    assert "COPY gunicorn.conf.py ./" in (REPO / "Dockerfile").read_text()
    shutil.copy(REPO / "gunicorn.conf.py", workdir)
    return workdir


def test_the_dockerfile_command_refuses_to_serve_unauthenticated_in_the_open(
        tmp_path: Path) -> None:
    cmd, env, _ = dockerfile()
    assert env["DICOM_RESOLVER_HOST"] == "0.0.0.0"
    env |= {"DICOM_RESOLVER_PORT": str(free_port()),
            "DICOM_RESOLVER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    argv = [CLI if cmd[0] == "dicom-resolver" else cmd[0], *cmd[1:]]
    done = subprocess.run(argv, env={"PATH": str(Path(sys.executable).parent), **env},
                          cwd=image_workdir(tmp_path), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "refusing to serve without authentication on 0.0.0.0:" in done.stderr


def test_the_dockerfile_command_serves(tmp_path: Path, database_url: str) -> None:
    cmd, env, healthcheck = dockerfile()
    port = free_port()
    env |= {"DICOM_RESOLVER_PORT": str(port), "DICOM_RESOLVER_DATABASE_URL": database_url,
            "DICOM_RESOLVER_AUTH": "api-key", "DICOM_RESOLVER_API_KEYS": API_KEY,
            "DICOM_RESOLVER_MIGRATE_ON_START": "true"}
    argv = [CLI if cmd[0] == "dicom-resolver" else cmd[0], *cmd[1:]]
    service = ServiceProcess(argv, env, tmp_path / "container.log", port,
                             cwd=image_workdir(tmp_path)).wait_ready()
    try:
        assert requests.get(f"{service.url}/readyz", timeout=10).status_code == 200
        assert requests.get(f"{service.url}/v1/studies", timeout=10).status_code == 401
        assert requests.get(f"{service.url}/v1/studies", timeout=10,
                            headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
        probe = shlex.split(healthcheck.replace(":8080/", f":{port}/"))
        probe[0] = sys.executable if probe[0] == "python" else probe[0]
        assert subprocess.run(probe, timeout=30).returncode == 0
    finally:
        assert service.stop() == 0  # SIGTERM: graceful
    lines = [line for line in service.log.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is a JSON object
    assert {"gunicorn.error", "gunicorn.access", "service.store.engine"} <= {
        record["logger"] for record in records}


def test_logs_are_json_with_request_ids_and_never_patient_data_or_keys(
        tmp_path: Path, database_url: str, services: list) -> None:
    service = serve(database_url, tmp_path / "service.log", workers=2,
                    DICOM_RESOLVER_AUTH="api-key", DICOM_RESOLVER_API_KEYS=API_KEY,
                    DICOM_RESOLVER_MIGRATE_ON_START="true", DICOM_RESOLVER_LOG_LEVEL="DEBUG")
    services.append(service)
    auth = {"Authorization": f"Bearer {API_KEY}"}
    datasets = make_study(StudySpec(seed=77, n_slices=2, rows=8, columns=8,
                                    patient_name=PATIENT_NAME, patient_id=PATIENT_ID))
    study = datasets[0].StudyInstanceUID
    session = requests.Session()
    posted = session.post(f"{service.url}/v1/dumps", data=orjson.dumps(make_dump(datasets)),
                          headers={**JSON, **auth, "X-Request-ID": "ingest-0001"}, timeout=60)
    assert posted.status_code == 200 and posted.headers["X-Request-ID"] == "ingest-0001"
    found = session.get(f"{service.url}/v1/studies",
                        params={"PatientName": "QZXWERTY*", "PatientID": PATIENT_ID},
                        headers={**auth, "X-Request-ID": "search-0002"}, timeout=10).json()
    assert [item["StudyInstanceUID"] for item in found["items"]] == [study]
    broken = make_dump(datasets)
    broken[0]["00100010"]["Value"] = [{"Alphabetic": PATIENT_NAME}, 17]  # invalid PN
    assert session.post(f"{service.url}/v1/dumps", data=orjson.dumps(broken),
                        headers={**JSON, **auth}, timeout=60).status_code == 400
    assert session.get(f"{service.url}/v1/studies", params={"PatientName": PATIENT_NAME},
                       headers={"Authorization": "Bearer wrong-" + API_KEY},
                       timeout=10).status_code == 401
    for _ in range(20):  # fresh connections, spread over the workers
        assert requests.get(f"{service.url}/v1/studies/{study}", headers=auth,
                            timeout=10).status_code == 200
    metrics = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(
                   requests.get(f"{service.url}/metrics", timeout=10).text)
               for sample in family.samples}
    assert service.stop() == 0

    # Whichever worker answered the scrape counted every worker's requests.
    assert metrics[("dicom_resolver_http_requests_total", (
        ("method", "GET"), ("route", "/v1/studies/<study>"), ("status", "200")))] == 20
    assert metrics[("dicom_resolver_ingest_instances_total", (("result", "created"),))] \
        == len(datasets)
    log = service.log
    for secret in (PATIENT_NAME, "QZXWERTY", "SECRETNAME", PATIENT_ID, API_KEY, "SECRETKEY"):
        assert secret not in log, secret
    records = [json.loads(line) for line in log.splitlines() if line.strip()]
    access = [r for r in records if r["logger"] == "gunicorn.access"]
    search = [r for r in access if r.get("request_id") == "search-0002"]
    assert search and search[0]["path"] == "/v1/studies" and search[0]["status"] == 200
    assert any(r["logger"] == "service.ingest" and r.get("request_id") == "ingest-0001"
               for r in records)
    assert all("?" not in r.get("path", "") for r in access)
