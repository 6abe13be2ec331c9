"""Every DICOM_RESOLVER_* setting is in the README's configuration table, and nothing else is."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from service.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def documented_settings(text: str) -> set[str]:
    """The names in the first column of the table under "## Configuration"."""
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_column = line.split("|")[1]
            names.update(re.findall(r"`([A-Z0-9_]+)`", first_column))
    return names


def test_the_readme_table_lists_every_setting() -> None:
    fields = {field.name.upper() for field in dataclasses.fields(Settings)}
    documented = documented_settings(README.read_text(encoding="utf-8"))
    assert fields - documented == set(), "settings missing from the README table"
    assert documented - fields == set(), "README rows for settings that do not exist"


def test_the_table_parser_reads_combined_rows() -> None:
    text = ("# x\n\n## Configuration\n\n| variable | default | meaning |\n|---|---|---|\n"
            "| `HOST`, `PORT` | `127.0.0.1`, `8080` | bind |\n\n## Next\n| `NOT_THIS` | | |\n")
    assert documented_settings(text) == {"HOST", "PORT"}
