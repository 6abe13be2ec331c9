"""pytest plugin (entry point `pytest11`): dicom-resolver and a fake Google for your tests.

Fixtures:
  healthcare_emulator   the Healthcare API stand-in over a fixture set (session)
  dicom_resolver        dicom-resolver on loopback, fixture studies ingested (session)
  fresh_dicom_resolver  the same, emptied and reloaded around the test (function); a test
                        marked @pytest.mark.dicom_resolver_data("dir") gets its own pair
                        (so does any test with dicom_resolver_scope = function)
Configuration (ini or command line):
  dicom_resolver_data   fixture set: a `dicom-resolver fixture make` folder or a folder of
                        .dcm files (relative to the rootdir); default: the shipped example
  dicom_resolver_server thread (default, fast) or gunicorn (a subprocess, as deployed);
                        --dicom-resolver-server overrides it
  dicom_resolver_scope  session (default) or function: the scope of the two fixtures

This module imports only pytest: it is loaded by every pytest run of an environment
where dicom-resolver is installed, including runs that never use it (`-p no:dicom_resolver`
turns it off). It defines no autouse fixture and its options are all prefixed.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from dicom_resolver_testing.stack import DicomResolver, RunningEmulator

MARKER = "dicom_resolver_data"
EXAMPLE_CACHE_KEY = "dicom-resolver-example-v1"
ACCOUNT_CACHE_KEY = "dicom-resolver-account-v1"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dicom-resolver", "dicom-resolver fixtures")
    group.addoption("--dicom-resolver-server", dest="dicom_resolver_server", default=None,
                    choices=("thread", "gunicorn"),
                    help="run dicom-resolver in a thread or under gunicorn (subprocess)")
    parser.addini("dicom_resolver_data", "fixture set served by the healthcare_emulator "
                  "fixture (default: the shipped example study)", default="")
    parser.addini("dicom_resolver_server", "thread or gunicorn", default="thread")
    parser.addini("dicom_resolver_scope", "session or function", default="session")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(folder): serve this fixture set to the "
                                       "test (with the fresh_dicom_resolver fixture)")


def _scope(fixture_name: str, config: pytest.Config) -> Literal["session", "function"]:
    scope = str(config.getini("dicom_resolver_scope") or "session")
    if scope == "session":
        return "session"
    if scope == "function":
        return "function"
    raise pytest.UsageError(f"dicom_resolver_scope must be session or function, not {scope!r}")


def _server_mode(config: pytest.Config) -> Any:
    return config.getoption("dicom_resolver_server") or config.getini("dicom_resolver_server")


def _data_folder(config: pytest.Config, value: str | Path | None = None) -> Path:
    """The fixture set named (relative to the rootdir), else the shipped example's files."""
    named = value if value is not None else config.getini("dicom_resolver_data")
    if named:
        return (config.rootpath / named).resolve()
    from dicom_resolver_testing.example import example_fixture_set

    return example_fixture_set(_cache_dir(config, EXAMPLE_CACHE_KEY))


def _cache_dir(config: pytest.Config, key: str) -> Path:
    """pytest's cache folder `key` (a temporary one with -p no:cacheprovider)."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir(key))
    return Path(tempfile.gettempdir()) / f"{key}-{os.getuid()}"


def _account_cache(config: pytest.Config) -> Path:
    """The emulator's service-account key, kept between runs (made once: RSA is slow)."""
    return _cache_dir(config, ACCOUNT_CACHE_KEY) / "emulator-service-account.json"


def _started(what: str, began: float, config: pytest.Config) -> None:
    config.stash.setdefault(STARTUP_TIMES, []).append((what, time.perf_counter() - began))


STARTUP_TIMES = pytest.StashKey[list[tuple[str, float]]]()


@contextmanager
def _running_resolver(fixture_name: str, emulator: RunningEmulator, config: pytest.Config,
                      tmp_path_factory: pytest.TempPathFactory,
                      began: float) -> Iterator[DicomResolver]:
    """dicom-resolver started on `emulator` (its start-up since `began` noted under
    `fixture_name`), stopped when the block ends."""
    from dicom_resolver_testing.stack import start_resolver

    resolver = start_resolver(emulator, tmp_path_factory.mktemp("dicom-resolver"),
                              mode=_server_mode(config))
    _started(f"{fixture_name}[{resolver.mode}]", began, config)
    try:
        yield resolver
    finally:
        resolver.stop()


@pytest.fixture(scope=_scope)
def healthcare_emulator(request: pytest.FixtureRequest,
                        tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """The Healthcare API stand-in on loopback over the configured fixture set; `key_file`
    is its service-account key, `api_root` the DICOM_RESOLVER_HEALTHCARE_API_ROOT."""
    from dicom_resolver_testing.stack import start_emulator

    # Function scope (dicom_resolver_scope = function) lets a test's marker choose the set.
    marker = request.node.get_closest_marker(MARKER) if request.scope == "function" else None
    began = time.perf_counter()
    running = start_emulator(_data_folder(request.config, marker.args[0] if marker else None),
                             tmp_path_factory.mktemp("healthcare-emulator"),
                             account_cache=_account_cache(request.config))
    _started("healthcare_emulator", began, request.config)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope=_scope)
def dicom_resolver(request: pytest.FixtureRequest, healthcare_emulator: RunningEmulator,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[DicomResolver]:
    """dicom-resolver on loopback, pointed at `healthcare_emulator`, fixtures ingested:
    `url`, `client`, `study_uids`, `series_uids`, `instances`, `reset()`."""
    with _running_resolver("dicom_resolver", healthcare_emulator, request.config,
                           tmp_path_factory, time.perf_counter()) as resolver:
        yield resolver


@pytest.fixture
def fresh_dicom_resolver(request: pytest.FixtureRequest,
                         tmp_path_factory: pytest.TempPathFactory) -> Iterator[DicomResolver]:
    """dicom_resolver with only the fixture studies in its store, whatever earlier tests did
    (and reset again after the test); with @pytest.mark.dicom_resolver_data("dir"), a
    service and emulator of its own."""
    from dicom_resolver_testing.stack import start_emulator

    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        resolver: DicomResolver = request.getfixturevalue("dicom_resolver")
        resolver.reset()
        yield resolver
        resolver.reset()  # what this test changed must not reach tests of dicom_resolver
        return
    if not marker.args:
        raise pytest.UsageError(f"@pytest.mark.{MARKER} needs the folder of a fixture set")
    began = time.perf_counter()
    emulator = start_emulator(_data_folder(request.config, marker.args[0]),
                              tmp_path_factory.mktemp("healthcare-emulator"),
                              account_cache=_account_cache(request.config))
    try:
        with _running_resolver("fresh_dicom_resolver", emulator, request.config,
                               tmp_path_factory, began) as resolver:
            yield resolver
    finally:
        emulator.stop()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    times = config.stash.get(STARTUP_TIMES, [])
    if times and config.getoption("verbose") > 0:
        terminalreporter.write_line("dicom-resolver start-up: " + ", ".join(
            f"{what} {seconds:.2f} s" for what, seconds in times))
