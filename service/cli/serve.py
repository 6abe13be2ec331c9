"""`dicom-resolver serve`: the API under gunicorn — options, the store in the master,
demo mode, the application.

gunicorn and SQLAlchemy are imported inside the functions so that the light commands
of the CLI (`show`, `tree`, `tag`) do not pay for them at start-up.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import runpy
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from service.cli.console import load_settings
from service.cli.database import open_store
from service.settings import Settings

# Options of `serve`; a gunicorn.conf.py in the working directory overrides them, the
# command's flags override both. The access log format leaves out the query string
# (%(q)s, %(r)s): queries carry patient names and IDs.
GUNICORN_DEFAULTS: dict[str, Any] = {
    "workers": min(2 * (os.cpu_count() or 1) + 1, 4),
    "threads": 4,
    # gthread reading each request whole, under a deadline, before a thread serves it
    "worker_class": "service.front.worker.BufferingThreadWorker",
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
DEMO_WORKDIR = Path("var/demo")


class ServeFlags(Protocol):
    """What the command line may override: unset (None, 0) leaves the lower layers."""

    # Read-only members, so that the frozen _Flags and an argparse Namespace both fit.
    @property
    def host(self) -> str | None: ...
    @property
    def port(self) -> int | None: ...
    @property
    def workers(self) -> int | None: ...


@dataclass(frozen=True)
class _Flags:
    host: str | None = None
    port: int | None = None
    workers: int | None = None


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def gunicorn_options(settings: Settings, flags: ServeFlags,
                     config_file: Path | None) -> dict[str, Any]:
    """Defaults, then the bind of the settings, then gunicorn.conf.py, then the flags."""
    options = dict(GUNICORN_DEFAULTS)
    options["bind"] = _bind(settings.host, settings.port)
    if config_file is not None and config_file.is_file():
        namespace = runpy.run_path(str(config_file))
        options.update({k: v for k, v in namespace.items() if not k.startswith("_")})
    if flags.host or flags.port:
        options["bind"] = _bind(flags.host or settings.host, flags.port or settings.port)
    if flags.workers:
        options["workers"] = flags.workers
    return options


def _start_demo(settings: Settings, workdir: Path, bind: str) -> tuple[Settings, Any]:
    """Demo mode: the Healthcare API stand-in on loopback with the example study, ingested;
    the console says where the service, the explorer and DICOMweb are, and how to open CORS."""
    from service.cli.demo import ready_banner, service_url, start_demo

    handle = start_demo(settings, workdir, out=sys.stderr)
    # google-auth finds credentials through the environment; the workers inherit it.
    os.environ.update(handle.env)
    settings = dataclasses.replace(settings, **handle.settings_overrides)
    engine = open_store(settings.database_url)
    try:
        ingested = handle.ingest(engine)
    finally:
        engine.dispose()
    sys.stderr.write(ready_banner(service_url(bind), ingested))
    sys.stderr.flush()
    return settings, handle


def serve(settings: Settings, *, host: str | None = None, port: int | None = None,
          workers: int | None = None, demo_workdir: Path | None = None) -> int:
    """Run the API under gunicorn until it halts; the exit status. StoreError first.

    With `demo_workdir`, demo mode runs first (see service.cli.demo) and stops with the server.
    """
    from gunicorn.app.base import BaseApplication

    options = gunicorn_options(settings, _Flags(host, port, workers),
                               Path.cwd() / GUNICORN_CONFIG_FILE)
    from service.api.auth import ConfigurationError, check_exposure, make_authenticator

    binds = options["bind"] if isinstance(options["bind"], list) else [options["bind"]]
    try:
        check_exposure(settings, binds)
        make_authenticator(settings)  # a misconfiguration stops here, not in every worker
    except ConfigurationError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    # Migrate once here, in the master, before workers start (when the store migrates at
    # start-up: SQLite, or DICOM_RESOLVER_MIGRATE_ON_START); otherwise just check it opens.
    from service.store.engine import migrates_on_start

    open_store(settings.database_url, migrate=migrates_on_start(settings)).dispose()
    demo = None
    master_pid = os.getpid()
    if demo_workdir is not None:
        settings, demo = _start_demo(settings, demo_workdir, binds[0])

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
    finally:
        # Workers are forks of this process and unwind this same stack when they exit:
        # only the master owns the emulator thread.
        if demo is not None and os.getpid() == master_pid:
            demo.stop()
    return 0


def cmd_serve(args: argparse.Namespace, out: IO[str]) -> int:
    from service.cli.demo import needs_demo

    demo = needs_demo(os.environ) if args.demo is None else args.demo
    return serve(load_settings(args), host=args.host, port=args.port, workers=args.workers,
                 demo_workdir=DEMO_WORKDIR if demo else None)
