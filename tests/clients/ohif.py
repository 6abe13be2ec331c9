"""The prebuilt OHIF viewer from npm, cached outside git, and a loopback static server for it.

The npm package `@ohif/app` ships the production build in `dist/` (index.html, bundles,
codecs, a default app-config.js). `npm pack` fetches exactly the pinned tarball (npm checks
it against the registry's integrity); it is checked once more against the pinned SHA-512
here, unpacked next to it, and reused by later runs. Nothing is built and no dependency
is installed: the bundle is self-contained.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

OHIF_PACKAGE = "@ohif/app"
OHIF_VERSION = "3.13.2"
# The registry's `dist.integrity` of @ohif/app@3.13.2 (npm view @ohif/app@3.13.2 dist).
OHIF_INTEGRITY = ("sha512-WZdxmpmG7rqFgW9ZJLcbgr3XCtLi1KDNPoMaeY5PPe6j4G4fjEjjkycZM6C6Zk2F87BKxFfp"
                  "q+jd5xXZB9E8EA==")
# Outside git (.gitignore): repository root / .cache / ohif-app-<version> / dist.
CACHE_ROOT = Path(__file__).resolve().parents[2] / ".cache"


def ohif_dist(cache_root: Path = CACHE_ROOT, npm: str = "npm") -> Path:
    """The unpacked `dist/` of the pinned @ohif/app, fetched with `npm pack` on first use."""
    target = cache_root / f"ohif-app-{OHIF_VERSION}"
    dist = target / "dist"
    if (dist / "index.html").is_file():
        return dist
    cache_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_root) as scratch:
        packed = subprocess.run([npm, "pack", f"{OHIF_PACKAGE}@{OHIF_VERSION}",
                                 "--pack-destination", scratch], cwd=scratch,
                                capture_output=True, text=True, timeout=600)
        if packed.returncode != 0:
            raise RuntimeError(f"npm pack {OHIF_PACKAGE}@{OHIF_VERSION} failed "
                               f"({packed.returncode}):\n{packed.stderr[-4000:]}")
        tarball = next(Path(scratch).glob("*.tgz"))
        check_integrity(tarball.read_bytes(), OHIF_INTEGRITY)
        unpacked = Path(scratch) / "unpacked"
        with tarfile.open(tarball) as archive:
            archive.extractall(unpacked, filter="data")
        if target.exists():  # a half-finished earlier attempt
            shutil.rmtree(target)
        (unpacked / "package").rename(target)  # atomic: dist appears complete or not at all
    return dist


def check_integrity(content: bytes, integrity: str) -> None:
    """Raise unless `content` has the Subresource-Integrity style SHA-512 `integrity`."""
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, content).digest()).decode()
    if actual != expected:
        raise RuntimeError(f"{OHIF_PACKAGE}@{OHIF_VERSION}: integrity {algorithm}-{actual} "
                           f"is not the pinned {integrity}")


def app_config_data_source(service_url: str) -> dict[str, Any]:
    """OHIF's DICOMweb data source for the service, as the README's "View it in OHIF" has it
    (a test compares the two)."""
    root = f"{service_url}/dicomweb"
    return {
        "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
        "sourceName": "resolver",
        "configuration": {
            "friendlyName": "dicom-resolver",
            "name": "resolver",
            "qidoRoot": root,
            "wadoRoot": root,
            "qidoSupportsIncludeField": False,
            "imageRendering": "wadors",
            "thumbnailRendering": "thumbnailDirect",  # the service's /thumbnail as <img src>
            "enableStudyLazyLoad": True,
        },
    }


def app_config(service_url: str) -> str:
    """OHIF's app-config.js with one data source, the service; the build's own extensions
    and modes, no first-visit dialogs in the way."""
    config: dict[str, Any] = {
        "routerBasename": "/",
        "extensions": [],
        "modes": [],
        "customizationService": {},
        "showStudyList": True,
        "maxNumberOfWebWorkers": 2,
        "showWarningMessageForCrossOrigin": False,
        "showCPUFallbackMessage": False,
        "showLoadingIndicator": True,
        "investigationalUseDialog": {"option": "never"},
        "defaultDataSourceName": "resolver",
        "dataSources": [app_config_data_source(service_url)],
    }
    return f"window.config = {json.dumps(config, indent=2)};\n"


@dataclass
class ViewerServer:
    """OHIF's dist/ on a loopback port; `config` is what /app-config.js answers."""

    url: str
    config: str = ""
    requests: list[str] = field(default_factory=list)


class _Handler(SimpleHTTPRequestHandler):
    viewer: ViewerServer

    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        path = self.path.split("?", 1)[0]
        self.viewer.requests.append(path)
        if path == "/app-config.js":
            body = self.viewer.config.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
            return
        if not Path(self.translate_path(path)).is_file():
            self.path = "/index.html"  # a single-page app: its routes are index.html
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the test inspects `requests`; nothing to print


@contextmanager
def serving_viewer(dist: Path) -> Iterator[ViewerServer]:
    """Serve `dist` (SPA fallback to index.html, generated app-config.js) on 127.0.0.1."""
    viewer = ViewerServer(url="")
    handler = type("ViewerHandler", (_Handler,), {"viewer": viewer})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(dist)))
    server.daemon_threads = True
    viewer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="ohif-static", daemon=True)
    thread.start()
    try:
        yield viewer
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


if __name__ == "__main__":  # .ci/run: fetch the build before the tests need it
    print(ohif_dist())
