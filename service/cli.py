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

`show` and `tree` read the dump's JSON directly (formatted by service.dicom.listing)
so that a dump of thousands of instances prints in about a second. They print
patient data to the terminal of the user who asked for their own file; nothing of
it is logged. `serve` is service.server.serve.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import IO

from service.dicom import dictionary
from service.dicom.json_model import Findings, JsonSyntaxError, Validator, load_json, split_dump
from service.dicom.listing import first_value, format_dataset, plural, tree_lines
from service.fixtures.command import add_fixture_command
from service.server import StoreError, masked_url, open_store, serve
from service.settings import Settings

MAX_PRINTED_ERRORS = 50
READ_CHUNK = 4 * 1024 * 1024


class UsageError(Exception):
    """A command cannot run as asked; printed on stderr, exit status 2."""


def _hex_group(text: str) -> int:
    try:
        group = int(text, 16)
    except ValueError:
        group = -1
    if not 0 <= group <= 0xFFFF or len(text) > 4:
        raise argparse.ArgumentTypeError(f"{text!r} is not a group of 1–4 hex digits")
    return group


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


def read_input(path: str, progress: Progress | None = None) -> bytes:
    """The bytes of a file, or of stdin for "-", reported on `progress` chunk by chunk."""
    if path == "-":
        return sys.stdin.buffer.read()
    file = Path(path)
    total = file.stat().st_size
    chunks: list[bytes] = []
    done = 0
    with file.open("rb") as stream:
        while chunk := stream.read(READ_CHUNK):
            chunks.append(chunk)
            done += len(chunk)
            if progress:
                progress.update(f"reading {path}: {done / 2**20:.0f}/{total / 2**20:.0f} MiB")
    return b"".join(chunks)


class DumpError(Exception):
    """A dump that cannot be read or is invalid; carries the validation errors."""

    def __init__(self, detail: str, errors: list[dict] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


def load_instances(path: str, max_depth: int) -> list[dict]:
    """The validated instances of a dump; DumpError when unreadable or invalid."""
    try:
        body = read_input(path)
    except OSError as exc:
        raise DumpError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        document = load_json(body)
    except JsonSyntaxError as exc:
        where = f" (at byte {exc.position})" if exc.position is not None else ""
        raise DumpError(f"{path}: {exc}{where}") from exc
    findings = Findings()
    instances = split_dump(document, findings)
    validator = Validator(findings, max_depth=max_depth)
    canonical = [validator.instance(item, index) if isinstance(item, dict) else item
                 for index, item in enumerate(instances)]
    if findings.errors:
        raise DumpError(f"{path}: {len(findings.errors)} problem(s) in the dump",
                        [f.to_json() for f in findings.errors])
    return canonical


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


def cmd_show(args: argparse.Namespace, out: IO[str]) -> int:
    instances = load_instances(args.dump, _settings(args).max_sequence_depth)
    if args.instance is not None:
        if not 0 <= args.instance < len(instances):
            raise UsageError(f"no instance {args.instance}: the dump holds "
                             f"{len(instances)} (numbered from 0)")
        selected = [(args.instance, instances[args.instance])]
    else:
        selected = list(enumerate(instances))
    for index, instance in selected:
        lines: list[str] = []
        if args.instance is None:
            lines.append(f"# instance {index}: "
                         f"SOPInstanceUID={first_value(instance, '00080018')} "
                         f"Modality={first_value(instance, '00080060')}")
        format_dataset(instance, lines, group=args.group)
        out.write("\n".join(lines) + "\n")
    return 0


def cmd_tree(args: argparse.Namespace, out: IO[str]) -> int:
    instances = load_instances(args.dump, _settings(args).max_sequence_depth)
    out.write("\n".join(tree_lines(instances, args.instances)) + "\n")
    return 0


def cmd_tag(args: argparse.Namespace, out: IO[str]) -> int:
    import orjson

    try:
        tag = dictionary.parse_tag(args.tag)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if dictionary.is_private(tag) and not dictionary.is_private_creator(tag):
        if not args.creator:
            sys.stderr.write(f"{dictionary.tag_key(tag)} is a private tag: name its block "
                             "with --creator\n")
            return 1
        info = dictionary.lookup_private(tag, args.creator)
        extra = {"creator": args.creator}  # as GET /v1/tags/{tag}?creator= answers
    else:
        info = dictionary.lookup(tag)
        extra = {}
    if info is None:
        where = f"the private dictionary of {args.creator!r}" if extra else "the dictionary"
        sys.stderr.write(f"{dictionary.tag_key(tag)} is not in {where}\n")
        return 1
    out.write(orjson.dumps({**info.to_json(), **extra}).decode() + "\n")
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    try:
        return Settings.load(**overrides)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def cmd_ingest(args: argparse.Namespace, out: IO[str]) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from service.errors import ServiceError
    from service.log_safety import exception_summary
    from service.usecases.ingest import ingest_bytes

    settings = _settings(args)
    engine = open_store(settings.database_url)
    progress = Progress()
    failed = 0
    try:
        for number, path in enumerate(args.dumps, 1):
            prefix = f"[{number}/{len(args.dumps)}] " if len(args.dumps) > 1 else ""
            try:
                body = read_input(path, progress)
                progress.update(f"{prefix}ingesting {path} ({len(body) / 2**20:.1f} MiB)")
                result = ingest_bytes(engine, body, max_depth=settings.max_sequence_depth)
            except OSError as exc:
                progress.clear()
                failed += 1
                print_problem(f"{path}: cannot read: {exc.strerror or exc}", None, sys.stderr)
                continue
            except ServiceError as exc:
                progress.clear()
                failed += 1
                print_problem(f"{path}: {exc.detail}", exc.errors, sys.stderr)
                continue
            except SQLAlchemyError as exc:
                # Its message may quote the row (patient data): the type and SQLSTATE only.
                progress.clear()
                failed += 1
                print_problem(f"{path}: the store failed ({exception_summary(exc)}); "
                              "nothing was stored", None, sys.stderr)
                continue
            progress.clear()
            warnings = result["warnings"]
            out.write(f"{path}: {plural(result['received'], 'instance')} "
                      f"({result['created']} created, {result['updated']} updated, "
                      f"{result['unchanged']} unchanged) in "
                      f"{plural(len(result['studies']), 'study', 'studies')}, "
                      f"{plural(len(result['series']), 'series', 'series')}; "
                      f"dump {result['dump_id']}"
                      f"{'; ' + plural(len(warnings), 'warning') if warnings else ''}\n")
            print_findings(warnings, sys.stderr, prefix=f"warning: {path}: ")
    finally:
        engine.dispose()
    return 1 if failed else 0


def cmd_migrate(args: argparse.Namespace, out: IO[str]) -> int:
    settings = _settings(args)
    open_store(settings.database_url).dispose()
    out.write(f"schema up to date: {masked_url(settings.database_url)}\n")
    return 0


DEMO_WORKDIR = Path("var/demo")


def cmd_serve(args: argparse.Namespace, out: IO[str]) -> int:
    from service.demo import needs_demo

    demo = needs_demo(os.environ) if args.demo is None else args.demo
    return serve(_settings(args), host=args.host, port=args.port, workers=args.workers,
                 demo_workdir=DEMO_WORKDIR if demo else None)


def cmd_emulate(argv: list[str]) -> int:
    # Imported here: the emulator stands beside the service, only the CLI reaches it.
    from service.emulator.__main__ import main as emulator_main

    return int(emulator_main(argv) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dicom-resolver", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    show = commands.add_parser("show", help="print a dump's attributes, one per line")
    show.add_argument("dump", help="DICOM JSON dump (- for stdin)")
    show.add_argument("--group", type=_hex_group, help="only this group (hex, e.g. 0010)")
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

    from service import cli_pull  # import from a Google DICOM store (service/cli_pull.py)
    cli_pull.add_parser(commands)

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
