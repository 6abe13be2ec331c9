"""The Healthcare API stand-in over HTTP: token endpoint checks, DICOMweb routes like Google's,
Google-style errors, fault injection. Oracle: pydicom reading the same files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pydicom
import pytest
import requests
from google.auth import jwt
from google.auth.crypt import RSASigner
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from pydicom.encaps import generate_frames

from service.emulator.keys import HEALTHCARE_SCOPE, JWT_BEARER_GRANT
from service.emulator.server import Emulator

OCTET_ANY = "application/octet-stream; transfer-syntax=*"
MULTIPART = 'multipart/related; type="application/octet-stream"'


def local(emulator, written, suffix):
    return emulator.instance_url(written.study_uid, written.series_uid, written.sop_uid,
                                 google=False) + suffix


@pytest.fixture
def session(credentials):
    with AuthorizedSession(credentials) as authorized:
        yield authorized


def parts_of(response):
    boundary = response.headers["Content-Type"].split("boundary=")[1].strip('"')
    chunks = response.content.split(b"--" + boundary.encode())
    assert chunks[-1].startswith(b"--")  # close delimiter present
    return [chunk[2:-2].split(b"\r\n\r\n", 1) for chunk in chunks[1:-1]]


def test_key_file_is_a_google_service_account_key(emulator):
    key = json.loads(emulator.key_file.read_text())
    assert key["type"] == "service_account"
    assert key["token_uri"] == f"{emulator.url}/token"
    assert key["client_email"].endswith(".iam.gserviceaccount.com")
    assert key["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert {"project_id", "private_key_id", "client_id"} <= key.keys()
    assert emulator.key_file.stat().st_mode & 0o077 == 0


def test_google_auth_gets_a_token(credentials, emulator):
    credentials.refresh(Request())
    assert credentials.token.startswith("emu-") and credentials.valid
    assert emulator.token_requests == 1


def _assertion(emulator, **claims):
    key = json.loads(emulator.key_file.read_text())
    signer = RSASigner.from_service_account_info(key)
    now = int(time.time())
    payload = {"iss": key["client_email"], "aud": key["token_uri"], "iat": now,
               "exp": now + 600, "scope": HEALTHCARE_SCOPE}
    payload.update(claims)
    return jwt.encode(signer, {k: v for k, v in payload.items() if v is not None}).decode()


@pytest.mark.parametrize(("claims", "reason"), [
    ({"iss": "someone@else.example"}, "iss"),
    ({"aud": "https://elsewhere.example/token"}, "aud"),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, "expired"),
    ({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 4000}, "future"),
    ({"exp": int(time.time()) + 7200}, "one hour"),
    ({"scope": "https://www.googleapis.com/auth/devstorage.read_only"}, "scope"),
])
def test_token_endpoint_checks_claims(emulator, claims, reason):
    answer = requests.post(f"{emulator.url}/token", timeout=5, data={
        "grant_type": JWT_BEARER_GRANT, "assertion": _assertion(emulator, **claims)})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert reason in answer.json()["error_description"]


def test_token_endpoint_checks_the_signature_and_grant(emulator):
    good = _assertion(emulator)
    header, payload, signature = good.split(".")
    forged = f"{header}.{payload}.{signature[:-6]}AAAAAA"
    for data, error in [({"grant_type": JWT_BEARER_GRANT, "assertion": forged}, "invalid_grant"),
                        ({"grant_type": "password", "assertion": good}, "unsupported_grant_type"),
                        ({"grant_type": JWT_BEARER_GRANT, "assertion": "x.y"}, "invalid_grant")]:
        answer = requests.post(f"{emulator.url}/token", data=data, timeout=5)
        assert answer.status_code == 400 and answer.json()["error"] == error


def test_refresh_fails_against_another_emulators_key(dicom_folder, credentials):
    with Emulator(dicom_folder[0]) as other:  # a freshly generated key
        foreign = service_account.Credentials.from_service_account_file(
            str(other.key_file), scopes=[HEALTHCARE_SCOPE])
        foreign._signer = credentials.signer  # same email/token_uri, wrong key
        with pytest.raises(RefreshError):
            foreign.refresh(Request())


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic abc"])
def test_dicomweb_needs_an_issued_token(emulator, instances, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    answer = requests.get(local(emulator, instances["ct1"], "/bulkdata/7FE00010"),
                          headers=headers, timeout=5)
    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == "UNAUTHENTICATED"


def test_expired_tokens_are_refused(dicom_folder, service_account_key, instances):
    with Emulator(dicom_folder[0], account=service_account_key, token_lifetime=1) as emulator:
        credentials = service_account.Credentials.from_service_account_file(
            str(emulator.key_file), scopes=[HEALTHCARE_SCOPE])
        credentials.refresh(Request())
        time.sleep(1.1)
        answer = requests.get(local(emulator, instances["ct1"], "/bulkdata/7FE00010"), timeout=5,
                              headers={"Authorization": f"Bearer {credentials.token}"})
        assert answer.status_code == 401


@pytest.mark.parametrize("name", ["ct1", "multiframe", "rle"])
def test_bulkdata_single_part_is_the_stored_pixel_data(session, emulator, instances, name):
    written = instances[name]
    answer = session.get(local(emulator, written, "/bulkdata/7FE00010"),
                         headers={"Accept": OCTET_ANY}, timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == \
        f"application/octet-stream; transfer-syntax={written.transfer_syntax}"
    assert answer.content == pydicom.dcmread(written.path).PixelData


@pytest.mark.parametrize("accept", [None, MULTIPART, MULTIPART + "; transfer-syntax=*", "*/*"])
def test_bulkdata_multipart_default(session, emulator, instances, accept):
    written = instances["rle"]
    headers = {"Accept": accept} if accept else {}
    answer = session.get(local(emulator, written, "/bulkdata/7FE00010"), headers=headers,
                         timeout=5)
    assert answer.headers["Content-Type"].startswith("multipart/related")
    [(part_headers, body)] = parts_of(answer)
    assert body == pydicom.dcmread(written.path).PixelData
    assert b"transfer-syntax=1.2.840.10008.1.2.5" in part_headers


@pytest.mark.parametrize("accept", [
    "image/jpeg", "application/octet-stream",  # compressed data without transfer-syntax=*
    MULTIPART + "; transfer-syntax=1.2.840.10008.1.2.1",
])
def test_bulkdata_never_transcodes(session, emulator, instances, accept):
    answer = session.get(local(emulator, instances["rle"], "/bulkdata/7FE00010"),
                         headers={"Accept": accept}, timeout=5)
    assert answer.status_code == 406
    assert answer.json()["error"]["status"] == "NOT_ACCEPTABLE"


def test_frames_stored_and_transcoded(session, emulator, instances):
    rle = instances["rle"]
    ds = pydicom.dcmread(rle.path)
    stored = session.get(local(emulator, rle, "/frames/1"), timeout=5,
                         headers={"Accept": MULTIPART + "; transfer-syntax=*"})
    [(_, codestream)] = parts_of(stored)
    assert codestream == next(generate_frames(ds.PixelData, number_of_frames=1))
    decoded = session.get(local(emulator, rle, "/frames/1"), timeout=5,
                          headers={"Accept": MULTIPART + "; transfer-syntax=1.2.840.10008.1.2.1"})
    [(part_headers, native)] = parts_of(decoded)
    assert native == ds.pixel_array.astype("<i2").tobytes()
    assert b"transfer-syntax=1.2.840.10008.1.2.1" in part_headers


@pytest.mark.parametrize("accept", ["application/dicom; transfer-syntax=*",
                                    'multipart/related; type="application/dicom"; '
                                    "transfer-syntax=*"])
def test_instance_retrieve_as_stored(session, emulator, instances, accept):
    rle = instances["rle"]
    answer = session.get(local(emulator, rle, ""), timeout=5, headers={"Accept": accept})
    assert answer.status_code == 200
    part_type = f"application/dicom; transfer-syntax={rle.transfer_syntax}"
    if accept.startswith("multipart"):
        [(headers, body)] = parts_of(answer)
        assert f"Content-Type: {part_type}".encode() in headers
    else:
        assert answer.headers["Content-Type"] == part_type
        body = answer.content
    assert body == rle.path.read_bytes()


@pytest.mark.parametrize("accept", [None, "application/dicom",
                                    "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"])
def test_instance_retrieve_transcodes_to_explicit_little_endian(session, emulator, instances,
                                                                accept):
    rle = instances["rle"]
    headers = {"Accept": accept} if accept else {}
    answer = session.get(local(emulator, rle, ""), timeout=5, headers=headers)
    body = parts_of(answer)[0][1] if accept is None else answer.content
    got = pydicom.dcmread(io.BytesIO(body))
    original = pydicom.dcmread(rle.path)
    assert got.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert got.SOPInstanceUID == original.SOPInstanceUID
    assert (got.pixel_array == original.pixel_array).all()


def test_instance_retrieve_refuses_other_syntaxes(session, emulator, instances):
    answer = session.get(local(emulator, instances["ct1"], ""), timeout=5, headers={
        "Accept": "application/dicom; transfer-syntax=1.2.840.10008.1.2.4.50"})
    assert answer.status_code == 406
    assert answer.json()["error"]["status"] == "NOT_ACCEPTABLE"
    missing = local(emulator, instances["ct1"], "").replace(instances["ct1"].sop_uid, "1.2.3")
    assert session.get(missing, timeout=5).status_code == 404


def test_multiframe_frames_and_range(session, emulator, instances):
    written = instances["multiframe"]
    pixel_data = pydicom.dcmread(written.path).PixelData
    size = 64 * 64 * 2
    answer = session.get(local(emulator, written, "/frames/3,1"), timeout=5,
                         headers={"Accept": MULTIPART + "; transfer-syntax=*"})
    assert [body for _, body in parts_of(answer)] == [pixel_data[2 * size:], pixel_data[:size]]
    missing = session.get(local(emulator, written, "/frames/4"), timeout=5,
                          headers={"Accept": MULTIPART})
    assert missing.status_code == 404


def test_google_style_errors(session, emulator, instances):
    written = instances["ct1"]
    other_store = local(emulator, written, "/bulkdata/7FE00010").replace("demo-store", "nope")
    refused = session.get(other_store, timeout=5)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == 403 and error["status"] == "PERMISSION_DENIED"
    assert "may not exist" in error["message"]
    unknown = local(emulator, written, "/bulkdata/7FE00010").replace(written.sop_uid, "1.2.3")
    assert session.get(unknown, timeout=5).json()["error"]["status"] == "NOT_FOUND"
    no_element = session.get(local(emulator, written, "/bulkdata/00091010"), timeout=5)
    assert no_element.status_code == 404


def test_metadata_points_back_with_google_bulkdata_uris(session, emulator, instances):
    written = instances["ct2"]
    [metadata] = session.get(local(emulator, written, "/metadata"), timeout=5).json()
    ds = pydicom.dcmread(written.path)
    assert metadata["00080018"]["Value"] == [ds.SOPInstanceUID]
    assert metadata["7FE00010"]["BulkDataURI"] == emulator.bulkdata_uri(
        written.study_uid, written.series_uid, written.sop_uid)


def test_fault_injection(session, emulator, instances):
    url = local(emulator, instances["ct1"], "/bulkdata/7FE00010")
    emulator.inject(status=429, retry_after=3, count=2)
    emulator.inject("/frames/", status=503)
    first, second, third = (session.get(url, headers={"Accept": OCTET_ANY}, timeout=5)
                            for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.headers["Retry-After"] == "3"
    assert first.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert session.get(local(emulator, instances["ct1"], "/frames/1"),
                       timeout=5).status_code == 503
    emulator.inject(status=200, truncate=True, content_type="text/plain")
    cut = session.get(url, headers={"Accept": OCTET_ANY}, timeout=5)
    assert cut.headers["Content-Type"] == "text/plain"
    assert len(cut.content) == len(third.content) // 2
    assert [r.status for r in emulator.requests if r.method == "GET"] == [429, 429, 200, 503, 200]


def test_requests_are_served_concurrently(session, emulator, instances):
    emulator.inject(status=200, delay=0.5, count=8)
    url = local(emulator, instances["ct1"], "/bulkdata/7FE00010")
    session.get(url, headers={"Accept": OCTET_ANY}, timeout=5)  # token first, not part of timing
    started = time.monotonic()
    with ThreadPoolExecutor(7) as pool:
        answers = list(pool.map(lambda _: session.get(url, headers={"Accept": OCTET_ANY},
                                                      timeout=5), range(7)))
    assert all(answer.status_code == 200 for answer in answers)
    assert time.monotonic() - started < 2.0  # 7 × 0.5 s would take 3.5 s serially


def test_request_log_redacts_authorization(session, emulator, instances):
    session.get(local(emulator, instances["ct1"], "/bulkdata/7FE00010"), timeout=5)
    [recorded] = [r for r in emulator.requests if r.method == "GET"]
    assert recorded.headers["Authorization"] == "<redacted>"
    assert session.credentials.token not in repr(emulator.requests)


@pytest.mark.slow
def test_cli_main_serves_and_writes_the_key(dicom_folder, tmp_path):
    key_file = tmp_path / "key.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "service.emulator", "--data", str(dicom_folder[0]),
         "--port", "0", "--key-file", str(key_file)],
        stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        url = line.rsplit(" ", 1)[1].strip()
        assert requests.get(f"{url}/healthz", timeout=5).json()["instances"] == 5
        assert json.loads(key_file.read_text())["token_uri"] == f"{url}/token"
    finally:
        process.terminate()
        exit_code = process.wait(timeout=10)
        process.stdout.close()
    assert exit_code == 0  # SIGTERM stops it cleanly
