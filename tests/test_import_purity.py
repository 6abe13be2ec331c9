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
FORBIDDEN = ("flask", "werkzeug", "sqlalchemy")


def _pure_modules() -> list[str]:
    names = list(PURE_MODULES)
    for package_name in PURE_PACKAGES:
        package = importlib.import_module(package_name)
        names.append(package_name)
        names.extend(info.name for info in
                     pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."))
    return sorted(names)


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
