"""Build hook: ship the repository root's openapi.yaml inside the `service` package.

The contract lives once, at the repository root, where the contract tests and a source
checkout (editable install) read it. A wheel has no repository root, so building one copies
the file to service/openapi.yaml, where service.api.spec finds it. Everything else about
the distribution is declared in pyproject.toml; MANIFEST.in puts the file in the sdist, so
a wheel built from the sdist carries it too.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SPEC = "openapi.yaml"
PACKAGE = "service"


class BuildPyWithSpec(build_py):
    """build_py, plus the root openapi.yaml copied into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # the checkout serves the root file itself
            return
        source = ROOT / SPEC
        if not source.is_file():  # a wheel without its contract would serve 404
            raise FileNotFoundError(f"{source} is missing: the wheel needs it")
        target = Path(self.build_lib) / PACKAGE / SPEC
        self.mkpath(str(target.parent))
        self.copy_file(str(source), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        return [*outputs, str(Path(self.build_lib) / PACKAGE / SPEC)]


setup(cmdclass={"build_py": BuildPyWithSpec})
