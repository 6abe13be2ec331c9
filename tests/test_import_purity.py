"""The pure packages load neither the web framework nor the database layer.

Each module is imported in a fresh interpreter: within this test process Flask and
SQLAlchemy are already loaded by other tests, so only a new process shows what one
import pulls in. Modules are discovered, not listed, so a new module is checked too.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

PURE_MODULES = ("service.errors", "service.settings")
PURE_PACKAGES = ("service.dicom", "service.dicomweb", "service.pixels")
# The use cases' inputs and outputs: every `types` module of service.usecases (the use
# cases themselves run the store, and may load SQLAlchemy).
USECASES, TYPES_MODULE = "service.usecases", "types"
FORBIDDEN = ("flask", "werkzeug", "sqlalchemy")


def _pure_modules() -> list[str]:
    names = list(PURE_MODULES)
    for package_name in PURE_PACKAGES:
        package = importlib.import_module(package_name)
        names.append(package_name)
        names.extend(info.name for info in
                     pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."))
    names.extend(_usecase_types())
    return sorted(names)


def _usecase_modules() -> list[pkgutil.ModuleInfo]:
    usecases = importlib.import_module(USECASES)
    return list(pkgutil.walk_packages(usecases.__path__, prefix=f"{USECASES}."))


def _usecase_types() -> list[str]:
    return [info.name for info in _usecase_modules()
            if info.name.rpartition(".")[2] == TYPES_MODULE]


def test_every_usecase_package_has_its_types_module() -> None:
    """The convention the discovery relies on: each package of use cases (the top one too)
    keeps its inputs and outputs in its `types` module."""
    packages = [USECASES] + [info.name for info in _usecase_modules() if info.ispkg]
    assert sorted(f"{package}.{TYPES_MODULE}" for package in packages) \
        == sorted(_usecase_types())


# Prints the forbidden top-level packages the import loaded, one per line.
_PROBE = """\
import importlib, sys
importlib.import_module({module!r})
loaded = {{name.partition(".")[0] for name in sys.modules}}
print("\\n".join(sorted(loaded & {forbidden!r})))
"""


@pytest.mark.parametrize("module", _pure_modules())
def test_pure_module_imports_no_flask_nor_sqlalchemy(module: str) -> None:
    probe = _PROBE.format(module=module, forbidden=set(FORBIDDEN))
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                               text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == []
