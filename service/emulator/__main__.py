"""`dicom-resolver emulate` / `python -m service.emulator`: run the Healthcare API stand-in."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from service.emulator.server import DEFAULT_STORE_PATH, Emulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dicom-resolver emulate",
        description="Serve .dcm files through a local stand-in for the Cloud Healthcare API "
                    "(OAuth token endpoint, DICOMweb QIDO-RS searches and bulkdata/frames/"
                    "metadata, Pub/Sub push of added files with --notify-url).")
    parser.add_argument("--data", required=True, type=Path, help="folder of .dcm files")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--key-file", type=Path, default=None,
                        help="where to write the service-account key for "
                             "GOOGLE_APPLICATION_CREDENTIALS (default: a temporary file)")
    parser.add_argument("--latency-ms", type=float, default=0,
                        help="added delay per DICOMweb request, in milliseconds")
    parser.add_argument("--store", default=DEFAULT_STORE_PATH,
                        help="DICOM store path served (projects/…/dicomStores/…)")
    parser.add_argument("--notify-url", default=None,
                        help="push a Pub/Sub-shaped notification to this URL for every .dcm "
                             "file added to --data (e.g. http://127.0.0.1:8080/v1/"
                             "notifications/pubsub)")
    parser.add_argument("--notify-audience", default=None,
                        help="audience of the push tokens (default: --notify-url)")
    parser.add_argument("--watch", type=float, default=2.0,
                        help="seconds between looks for new files with --notify-url")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.data.is_dir():
        print(f"error: --data {args.data} is not a folder")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    emulator = Emulator(args.data, args.host, args.port, key_file=args.key_file,
                        store_path=args.store, latency_ms=args.latency_ms)
    emulator.start()
    try:
        print(f"Healthcare API emulator listening on {emulator.url}")
        print(f"  store:      {emulator.store_path}")
        print(f"  key file:   {emulator.key_file}")
        print("Point dicom-resolver at it with:")
        print(f"  export GOOGLE_APPLICATION_CREDENTIALS={emulator.key_file}")
        print(f"  export DICOM_RESOLVER_HEALTHCARE_API_ROOT={emulator.api_root}")
        print(f"  export DICOM_RESOLVER_DICOM_STORE={emulator.store_path}")
        if args.notify_url:
            emulator.subscribe(args.notify_url, args.notify_audience)
            print(f"Pushing notifications of new files to {args.notify_url}; tokens verify "
                  f"with DICOM_RESOLVER_PUBSUB_CERTS_URL={emulator.certs_url}")
        print("Press Ctrl+C to stop.", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        interval = args.watch if args.notify_url else 0.5
        try:
            while not stop.wait(interval):
                if args.notify_url:
                    emulator.rescan()
        except KeyboardInterrupt:
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
