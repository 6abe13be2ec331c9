"""The wheel check: what `pip install dicom-resolver` gets must run and serve.

Builds the sdist and from it the wheel (`python -m build`), installs the wheel into a fresh
virtual environment in a temporary directory, and from a working directory outside the
repository (so the checkout's `service/` cannot be imported): ingests the example dump the
package ships, starts `dicom-resolver serve --no-demo` on a free loopback port with a temporary
SQLite store, and fetches /openapi.yaml (the repository's file, byte for byte), / (the
explorer) and /v1/studies (the ingested study). Exit status 0 only if all of that holds.

Run it with the repository's test environment: `make wheel-check`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0
EXAMPLE_STUDY = """
from service.examples.shipped import EXAMPLE_DUMP_PATH, load_example_dump
(uid,) = {record["0020000D"]["Value"][0] for record in load_example_dump()}
print(EXAMPLE_DUMP_PATH, uid)
"""


class CheckFailed(Exception):
    """One expectation about the installed wheel did not hold."""


def run(args: list[str | Path], **kwargs: object) -> str:
    """Run a command; its output, or CheckFailed carrying the output when it fails."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise CheckFailed(f"{' '.join(map(str, args))} exited {done.returncode}:\n"
                          f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> tuple[int, str, bytes]:
    """(status, Content-Type, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def build_wheel(out: Path) -> Path:
    run([sys.executable, "-m", "build", "--outdir", out, REPO])
    wheels = sorted(out.glob("dicom_resolver-*.whl"))
    expect(len(wheels) == 1, f"expected one wheel in {out}, found {wheels}")
    return wheels[0]


def install(wheel: Path, venv: Path) -> Path:
    """A fresh venv with the wheel (not editable) installed; its bin directory."""
    run([sys.executable, "-m", "venv", venv])
    bin_dir = venv / "bin"
    run([bin_dir / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         wheel])
    return bin_dir


def wait_until_up(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CheckFailed(f"the server exited {server.returncode}:\n"
                              f"{log.read_text()[-3000:]}")
        try:
            if fetch(base + "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise CheckFailed(f"the server did not answer /healthz in {START_TIMEOUT_S:.0f} s:\n"
                      f"{log.read_text()[-3000:]}")


def check_served(base: str, study_uid: str) -> None:
    status, media_type, body = fetch(base + "/openapi.yaml")
    expect(status == 200, f"/openapi.yaml answered {status}: the wheel lacks the contract")
    expect(body == (REPO / "openapi.yaml").read_bytes(),
           "/openapi.yaml differs from the repository's openapi.yaml")
    expect(media_type.startswith("application/yaml"), f"/openapi.yaml served as {media_type}")

    status, media_type, body = fetch(base + "/")
    expect(status == 200 and media_type.startswith("text/html"),
           f"/ answered {status} {media_type}: the wheel lacks the explorer")
    expect(b"<title>dicom-resolver</title>" in body, "/ is not the explorer's page")
    for asset in ("/explorer/explorer.css", "/explorer/js/main.js"):
        status, _, _ = fetch(base + asset)
        expect(status == 200, f"{asset} answered {status}: the wheel lacks the explorer's files")

    # Bodies are never printed: the example study carries (synthetic) patient names.
    status, media_type, body = fetch(base + "/v1/studies")
    expect(status == 200 and media_type.startswith("application/json"),
           f"/v1/studies answered {status} {media_type}")
    listed = [item.get("StudyInstanceUID") for item in json.loads(body)["items"]]
    expect(listed == [study_uid],
           f"/v1/studies lists {len(listed)} studies, not just the ingested example study")


def check(work: Path) -> None:
    wheel = build_wheel(work / "dist")
    bin_dir = install(wheel, work / "venv")
    # Outside the repository: whatever runs now comes from the installed wheel.
    home = work / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DICOM_RESOLVER_", "PYTHON", "GOOGLE_"))}
    env.update(HOME=str(home),
               DICOM_RESOLVER_DATABASE_URL=f"sqlite:///{work / 'store.sqlite3'}")
    located = run([bin_dir / "python", "-c", "import service; print(service.__file__)"],
                  cwd=home, env=env).strip()
    expect(Path(located).is_relative_to(work / "venv"),
           f"`import service` found {located}, not the installed wheel")
    # The example dump the package ships, and the one study it holds.
    example, study_uid = run([bin_dir / "python", "-c", EXAMPLE_STUDY],
                             cwd=home, env=env).split()
    run([bin_dir / "dicom-resolver", "ingest", example], cwd=home, env=env)

    port = free_port()
    log = work / "serve.log"
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [bin_dir / "dicom-resolver", "serve", "--no-demo", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1"],
            cwd=home, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server, log)
        check_served(base, study_uid)
    finally:
        stop(server)


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (gunicorn and its worker), SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 30.0), (signal.SIGKILL, None)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:  # the whole group has already gone
            pass
        try:
            server.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def main() -> int:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="wheel-check-"))
    try:
        check(work)
    except CheckFailed as failure:
        print(f"wheel check FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wheel check passed in {time.monotonic() - started:.0f} s: the installed wheel "
          "serves /openapi.yaml, the explorer and /v1/studies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
