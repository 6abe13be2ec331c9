"""What every command shares on the terminal: usage errors, the progress line, problem lists."""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

from service.settings import Settings

MAX_PRINTED_ERRORS = 50


class UsageError(Exception):
    """A command cannot run as asked; printed on stderr, exit status 2."""


class Progress:
    """One self-overwriting status line on stderr, only when stderr is a terminal."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.active = self.stream.isatty()

    def update(self, text: str) -> None:
        if self.active:
            self.stream.write(f"\r{text}\x1b[K")
            self.stream.flush()

    def clear(self) -> None:
        if self.active:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def print_findings(findings: list[dict], stream: IO[str], prefix: str = "  ") -> None:
    for error in findings[:MAX_PRINTED_ERRORS]:
        instance = error.get("instance")
        where = f"instance {instance} " if instance is not None else ""
        stream.write(f"{prefix}{where}{error.get('path', '$')}: {error.get('detail')}\n")
    if len(findings) > MAX_PRINTED_ERRORS:
        stream.write(f"{prefix}… and {len(findings) - MAX_PRINTED_ERRORS} more\n")


def print_problem(detail: str, errors: list[dict] | None, stream: IO[str]) -> None:
    stream.write(f"error: {detail}\n")
    print_findings(errors or [], stream)


def load_settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    """The settings, with --database-url (when the command has it) and `overrides` on top;
    an invalid setting is a UsageError."""
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    try:
        return Settings.load(**overrides)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
