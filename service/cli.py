"""dicom-resolver: the command-line tool.

    dicom-resolver show DUMP.json [--group 0010] [--instance N]   attributes, one per line
    dicom-resolver tree DUMP.json [--instances]                    patient → study → series
    dicom-resolver tag TAG [--creator NAME]                        dictionary entry as JSON
    dicom-resolver ingest DUMP.json … [--database-url URL]         load dumps into the store
    dicom-resolver serve [--host H] [--port P] [--workers N]       run the API under gunicorn
    dicom-resolver migrate [--database-url URL]                    create/update the schema
    dicom-resolver emulate …                                       the Healthcare API emulator

`show` and `tree` read the dump's JSON directly (no pydicom Dataset per
instance) so that a dump of thousands of instances prints in about a second.
They print patient data to the terminal of the user who asked for their own
file; nothing of it is logged.
"""

from __future__ import annotations

import argparse
import logging
import os
import runpy
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from service.dicom import dictionary, values
from service.dicom.json_model import (
    ExactFloat,
    Findings,
    JsonSyntaxError,
    Validator,
    load_json,
    split_dump,
)

log = logging.getLogger(__name__)

# Options of `serve`; a gunicorn.conf.py in the working directory overrides them, the
# command's flags override both. The access log format leaves out the query string
# (%(q)s, %(r)s): queries carry patient names and IDs.
GUNICORN_DEFAULTS: dict[str, Any] = {
    "workers": min(2 * (os.cpu_count() or 1) + 1, 4),
    "threads": 4,
    "worker_class": "gthread",
    "timeout": 120,  # a volume fetched from Google can take a while
    "graceful_timeout": 20,
    "keepalive": 5,
    "accesslog": "-",
    "errorlog": "-",
    "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
    "proc_name": "dicom-resolver",
    # gunicorn ≥ 24 opens a control socket at one fixed per-user path: two servers on a
    # host would fight over it, and nothing here uses runtime management.
    "control_socket_disable": True,
}
GUNICORN_CONFIG_FILE = "gunicorn.conf.py"

MAX_VALUE_CHARS = 96  # longer values are cut with an ellipsis in `show`
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


# ---------------------------------------------------------------- show

def _scalar_text(value: Any, vr: str) -> str:
    if value is None:
        return ""
    if vr == "PN":
        return values.person_name(value) or ""
    if isinstance(value, ExactFloat):
        return value.text
    return str(value)


def _inline_size(encoded: str) -> int:
    text = "".join(encoded.split())
    return len(text) * 3 // 4 - (len(text) - len(text.rstrip("=")))


def format_value(attribute: dict) -> str:
    """The printed value of one non-sequence attribute (see `show`)."""
    vr = attribute.get("vr", "")
    if "BulkDataURI" in attribute:
        uri = attribute["BulkDataURI"]
        # Keep the tail of a long URI: ".../bulkdata/7FE00010" is the informative part.
        if len(uri) > MAX_VALUE_CHARS:
            uri = uri[:40] + "…" + uri[-(MAX_VALUE_CHARS - 41):]
        return f"<BulkDataURI {uri}>"
    if "InlineBinary" in attribute:
        return f"<InlineBinary, {_inline_size(attribute['InlineBinary'])} bytes>"
    items = attribute.get("Value")
    if not items:
        return "(no value)"
    try:
        text = "\\".join(items)  # all strings: the common case, and the fast one
    except TypeError:
        text = "\\".join(_scalar_text(value, vr) for value in items)
    if "\n" in text or "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "↵")
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


_ODD_DIGITS = frozenset("13579BDF")


def _creators(dataset: dict) -> dict[int, str]:
    creators = {}
    for key, attribute in dataset.items():
        if key[3] not in _ODD_DIGITS:
            continue
        tag = int(key, 16)
        if dictionary.is_private_creator(tag):
            value = (attribute.get("Value") or [None])[0]
            if isinstance(value, str):
                creators[tag] = value.strip()
    return creators


def attribute_name(tag: int, creator: str | None) -> str:
    """The dictionary name; private elements as "[CREATOR] Name" when the block is known."""
    if dictionary.is_private(tag) and not dictionary.is_private_creator(tag):
        if creator is None:
            return "Private tag without creator"
        info = dictionary.lookup_private(tag, creator)
        return f"[{creator}] {info.name if info and info.name else 'Unknown'}"
    info = dictionary.lookup(tag)
    return info.name if info and info.name else "Unknown Tag"


@lru_cache(maxsize=65536)
def _head(key: str, creator: str | None, vr: str) -> str:
    return f"{attribute_name(int(key, 16), creator)} ({key[:4]},{key[4:]}) {vr}"


def format_dataset(dataset: dict, lines: list[str], indent: int = 0,
                   group: int | None = None) -> None:
    """Append the lines of one dataset (instance or sequence item) to `lines`."""
    pad = " " * indent
    creators = _creators(dataset)
    group_key = None if group is None else f"{group:04X}"
    for key in sorted(dataset):
        if group_key is not None and key[:4] != group_key:
            continue
        attribute = dataset[key]
        vr = attribute.get("vr", "")
        creator = None
        if creators and key[3] in _ODD_DIGITS:
            creator = creators.get(dictionary.private_creator_tag(int(key, 16)))
        head = pad + _head(key, creator, vr)
        if vr != "SQ":
            lines.append(f"{head} = {format_value(attribute)}")
            continue
        items = attribute.get("Value") or []
        lines.append(f"{head}: {len(items)} item{'s' if len(items) != 1 else ''}")
        for number, item in enumerate(items, 1):
            lines.append(f"{pad}  > item {number}")
            format_dataset(item, lines, indent + 4)


def _first(dataset: dict, key: str) -> Any:
    items = (dataset.get(key) or {}).get("Value")
    return items[0] if items else None


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
            lines.append(f"# instance {index}: SOPInstanceUID={_first(instance, '00080018')} "
                         f"Modality={_first(instance, '00080060')}")
        format_dataset(instance, lines, group=args.group)
        out.write("\n".join(lines) + "\n")
    return 0


# ---------------------------------------------------------------- tree

def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _described(text: Any) -> str:
    return f' "{text}"' if text else ""


def _number_key(value: Any) -> tuple[int, float]:
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (1, 0.0)


def _any(instances: list[dict], key: str) -> Any:
    """The first value any of the instances has (an SR may lack the study description)."""
    return next((value for value in (_first(i, key) for i in instances)
                 if value not in (None, "")), None)


def tree_lines(instances: list[dict], with_instances: bool = False) -> list[str]:
    """Patient → Study → Series (→ Instance) with counts, modalities and descriptions."""
    patients: dict[tuple, dict[str, dict[str, list[dict]]]] = {}
    for instance in instances:
        patient = (values.person_name(_first(instance, "00100010")),
                   _first(instance, "00100020"))
        studies = patients.setdefault(patient, {})
        series = studies.setdefault(_first(instance, "0020000D") or "(no StudyInstanceUID)", {})
        series.setdefault(_first(instance, "0020000E") or "(no SeriesInstanceUID)",
                          []).append(instance)
    lines = []
    for (name, patient_id), studies in patients.items():
        count = sum(len(group) for series in studies.values() for group in series.values())
        lines.append(f"Patient {name or '(no name)'} (ID {patient_id or '—'}): "
                     f"{_plural(len(studies), 'study', 'studies')}, "
                     f"{_plural(count, 'instance')}")
        members = {uid: [i for group in series.values() for i in group]
                   for uid, series in studies.items()}
        for study_uid in sorted(studies, key=lambda uid: str(_any(members[uid], "00080020"))):
            series, study = studies[study_uid], members[study_uid]
            date, accession = _any(study, "00080020"), _any(study, "00080050")
            modalities = sorted({str(_first(i, "00080060")) for i in study
                                 if _first(i, "00080060")})
            lines.append(
                f"  Study {study_uid}{' ' + values.date_iso(date) if date else ''}"
                f"{_described(_any(study, '00081030'))}"
                f"{f' accession {accession}' if accession else ''}: "
                f"{_plural(len(series), 'series', 'series')}, "
                f"{_plural(len(study), 'instance')}, modalities {'/'.join(modalities) or '—'}")
            for series_uid in sorted(series, key=lambda uid: _number_key(
                    _any(series[uid], "00200011"))):
                group = series[series_uid]
                number = _any(group, "00200011")
                lines.append(f"    Series {series_uid}{f' #{number}' if number is not None else ''}"
                             f" {_any(group, '00080060') or '—'}"
                             f"{_described(_any(group, '0008103E'))}: "
                             f"{_plural(len(group), 'instance')}")
                if not with_instances:
                    continue
                for instance in sorted(group, key=lambda i: (
                        _number_key(_first(i, "00200013")), _first(i, "00080018") or "")):
                    number = _first(instance, "00200013")
                    lines.append(f"      Instance {_first(instance, '00080018')}"
                                 f"{f' #{number}' if number is not None else ''}")
    return lines


def cmd_tree(args: argparse.Namespace, out: IO[str]) -> int:
    instances = load_instances(args.dump, _settings(args).max_sequence_depth)
    out.write("\n".join(tree_lines(instances, args.instances)) + "\n")
    return 0


# ---------------------------------------------------------------- tag

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


# ---------------------------------------------------------------- ingest, migrate

def _settings(args: argparse.Namespace) -> Any:
    from service.settings import Settings

    overrides = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    try:
        return Settings.load(**overrides)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


class StoreError(Exception):
    """The store cannot be opened; printed on stderr, exit status 1."""


def open_store(url: str) -> Any:
    """An engine with the schema in place, or StoreError naming the URL without password."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from service.store.engine import make_engine

    try:
        return make_engine(url)
    except (ArgumentError, SQLAlchemyError, OSError, ValueError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        raise StoreError(f"cannot open the store at {masked_url(url)}: "
                         f"{type(exc).__name__}: {reason}") from exc


def cmd_ingest(args: argparse.Namespace, out: IO[str]) -> int:
    from service.ingest import ingest_bytes
    from service.problems import ServiceError

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
            progress.clear()
            warnings = result["warnings"]
            out.write(f"{path}: {_plural(result['received'], 'instance')} "
                      f"({result['created']} created, {result['updated']} updated, "
                      f"{result['unchanged']} unchanged) in "
                      f"{_plural(len(result['studies']), 'study', 'studies')}, "
                      f"{_plural(len(result['series']), 'series', 'series')}; "
                      f"dump {result['dump_id']}"
                      f"{'; ' + _plural(len(warnings), 'warning') if warnings else ''}\n")
            print_findings(warnings, sys.stderr, prefix=f"warning: {path}: ")
    finally:
        engine.dispose()
    return 1 if failed else 0


def masked_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_migrate(args: argparse.Namespace, out: IO[str]) -> int:
    settings = _settings(args)
    open_store(settings.database_url).dispose()
    out.write(f"schema up to date: {masked_url(settings.database_url)}\n")
    return 0


# ---------------------------------------------------------------- serve, emulate

def gunicorn_options(settings: Any, args: argparse.Namespace,
                     config_file: Path | None) -> dict[str, Any]:
    """Defaults, then the bind of the settings, then gunicorn.conf.py, then the flags."""
    options = dict(GUNICORN_DEFAULTS)
    host = settings.host
    options["bind"] = f"[{host}]:{settings.port}" if ":" in host else f"{host}:{settings.port}"
    if config_file is not None and config_file.is_file():
        namespace = runpy.run_path(str(config_file))
        options.update({k: v for k, v in namespace.items() if not k.startswith("_")})
    if args.host or args.port:
        host = args.host or settings.host
        port = args.port or settings.port
        options["bind"] = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if args.workers:
        options["workers"] = args.workers
    return options


def cmd_serve(args: argparse.Namespace, out: IO[str]) -> int:
    from gunicorn.app.base import BaseApplication

    settings = _settings(args)
    options = gunicorn_options(settings, args, Path.cwd() / GUNICORN_CONFIG_FILE)
    # Create the schema once here, in the master, so that workers do not race to it.
    open_store(settings.database_url).dispose()

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Callable:
            from service import create_app

            return create_app(settings)

    try:
        Server().run()
    except SystemExit as exc:  # gunicorn's arbiter exits when it halts
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


def cmd_emulate(argv: list[str]) -> int:
    # Imported here: the emulator stands beside the service, only the CLI reaches it.
    from service.emulator.__main__ import main as emulator_main

    return int(emulator_main(argv) or 0)


# ---------------------------------------------------------------- main

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
    serve.set_defaults(handler=cmd_serve)

    migrate = commands.add_parser("migrate", help="create or update the database schema")
    migrate.add_argument("--database-url", help="SQLAlchemy URL (default: settings)")
    migrate.set_defaults(handler=cmd_migrate)

    commands.add_parser("emulate", help="run the Healthcare API emulator (see emulate --help)",
                        add_help=False)
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
