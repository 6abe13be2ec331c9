"""dicom-resolver: the command-line tool.

    dicom-resolver show DUMP.json [--group 0010] [--instance N]   attributes, one per line
    dicom-resolver tree DUMP.json [--instances]                    patient → study → series
    dicom-resolver tag TAG [--creator NAME]                        dictionary entry as JSON
    dicom-resolver ingest DUMP.json … [--database-url URL]         load dumps into the store
    dicom-resolver serve [--host H] [--port P] [--workers N]       run the API under gunicorn
    dicom-resolver migrate [--database-url URL]                    create/update the schema
    dicom-resolver pull [--store S] [--study UID …] [--since D] …  import from a DICOM store
    dicom-resolver emulate …                                       the Healthcare API emulator
    dicom-resolver fixture make SRC_DIR OUT_DIR [--deidentify]     fixture set for the pytest plugin

This package is the tool: `main` parses and dispatches; commands.py holds `show`, `tree`,
`tag`, `ingest` and `migrate`, pull.py `pull`, serve.py `serve` (gunicorn) with demo.py
(demo mode), listing.py the text of `show` and `tree`. Heavy imports (SQLAlchemy,
gunicorn, the emulator) wait inside the commands that need them, so that the light ones
start fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from service.cli import pull
from service.cli.commands import cmd_ingest, cmd_migrate, cmd_show, cmd_tag, cmd_tree, hex_group
from service.cli.console import UsageError, print_problem
from service.cli.database import StoreError
from service.cli.dumps import DumpError
from service.cli.serve import cmd_serve
from service.fixtures.command import add_fixture_command


def cmd_emulate(argv: list[str]) -> int:
    # Imported here: the emulator stands beside the service, only the CLI reaches it.
    from service.emulator.__main__ import main as emulator_main

    return int(emulator_main(argv) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dicom-resolver", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    show = commands.add_parser("show", help="print a dump's attributes, one per line")
    show.add_argument("dump", help="DICOM JSON dump (- for stdin)")
    show.add_argument("--group", type=hex_group, help="only this group (hex, e.g. 0010)")
    show.add_argument("--instance", type=int, help="only this instance (0-based)")
    show.set_defaults(handler=cmd_show)

    tree = commands.add_parser("tree", help="print the patient/study/series hierarchy")
    tree.add_argument("dump", help="DICOM JSON dump (- for stdin)")
    tree.add_argument("--instances", action="store_true", help="list every instance too")
    tree.set_defaults(handler=cmd_tree)

    tag = commands.add_parser("tag", help="look a tag or keyword up in the dictionary")
    tag.add_argument("tag", help="GGGGEEEE, (gggg,eeee) or a keyword")
    tag.add_argument("--creator", help="private creator of a private tag")
    tag.set_defaults(handler=cmd_tag)

    ingest = commands.add_parser("ingest", help="ingest dumps into the store")
    ingest.add_argument("dumps", nargs="+", metavar="DUMP", help="DICOM JSON dump (- for stdin)")
    ingest.add_argument("--database-url", help="SQLAlchemy URL (default: settings)")
    ingest.set_defaults(handler=cmd_ingest)

    serve = commands.add_parser("serve", help="run the API under gunicorn")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--demo", action=argparse.BooleanOptionalAction, default=None,
                       help="start the Healthcare API stand-in with the example study "
                            "(default: only when no Google credentials or API root are set)")
    serve.set_defaults(handler=cmd_serve)

    migrate = commands.add_parser("migrate", help="create or update the database schema")
    migrate.add_argument("--database-url", help="SQLAlchemy URL (default: settings)")
    migrate.set_defaults(handler=cmd_migrate)

    pull.add_parser(commands)  # import from a Google DICOM store

    commands.add_parser("emulate", help="run the Healthcare API emulator (see emulate --help)",
                        add_help=False)

    add_fixture_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulate"]:
        # Everything after "emulate" belongs to the emulator's own parser.
        return cmd_emulate(argv[1:])
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args, sys.stdout)
    except UsageError as exc:
        sys.stderr.write(f"dicom-resolver {args.command}: {exc}\n")
        return 2
    except DumpError as exc:
        print_problem(exc.detail, exc.errors, sys.stderr)
        return 1
    except StoreError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except BrokenPipeError:
        # The reader went away (`… | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
