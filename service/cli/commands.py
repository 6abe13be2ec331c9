"""`show`, `tree`, `tag`, `ingest` and `migrate`: each parses, calls one use case, renders.

`show` and `tree` read the dump's JSON directly (formatted by service.cli.listing)
so that a dump of thousands of instances prints in about a second. They print
patient data to the terminal of the user who asked for their own file; nothing of
it is logged.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO

from service.cli.console import (
    Progress,
    UsageError,
    load_settings,
    print_findings,
    print_problem,
)
from service.cli.database import masked_url, open_store
from service.cli.dumps import load_instances, read_input
from service.cli.listing import format_dataset, plural, tree_lines
from service.dicom import dictionary
from service.dicom.json_model import first_value


def hex_group(text: str) -> int:
    """The argparse type of --group: 1–4 hex digits."""
    try:
        group = int(text, 16)
    except ValueError:
        group = -1
    if not 0 <= group <= 0xFFFF or len(text) > 4:
        raise argparse.ArgumentTypeError(f"{text!r} is not a group of 1–4 hex digits")
    return group


def cmd_show(args: argparse.Namespace, out: IO[str]) -> int:
    instances = load_instances(args.dump, load_settings(args).max_sequence_depth)
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
    instances = load_instances(args.dump, load_settings(args).max_sequence_depth)
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


def cmd_ingest(args: argparse.Namespace, out: IO[str]) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from service.errors import ServiceError
    from service.log_safety import exception_summary
    from service.usecases.ingest import ingest_bytes

    settings = load_settings(args)
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
    settings = load_settings(args)
    open_store(settings.database_url).dispose()
    out.write(f"schema up to date: {masked_url(settings.database_url)}\n")
    return 0
