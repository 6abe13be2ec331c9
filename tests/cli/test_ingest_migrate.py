"""`dicom-resolver ingest` and `migrate` against a real SQLite file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.cli import main
from service.cli.console import Progress
from service.cli.database import masked_url
from service.cli.dumps import read_input
from service.store.schema import instances, series, studies

from .conftest import to_instance, write_dump


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return {table.name: connection.execute(
                sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in (studies, series, instances)}
    finally:
        engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'db.sqlite3'}"


def test_ingest_stores_every_instance(capsys, dump_file: Path, datasets,
                                      database_url: str) -> None:
    status = main(["ingest", str(dump_file), "--database-url", database_url])
    captured = capsys.readouterr()
    assert status == 0
    images = [index for index, ds in enumerate(datasets) if "PixelData" in ds]
    assert captured.out == (f"{dump_file}: {len(datasets)} instances ({len(datasets)} created, "
                            "0 updated, 0 unchanged) in 3 studies, 4 series; dump 1; "
                            f"{len(images)} warnings\n")
    # The fixture's images lack BitsAllocated & co.: each gets its warning, by index.
    assert [line.split(" $[")[0] for line in captured.err.splitlines()] == [
        f"warning: {dump_file}: instance {index}" for index in images]
    assert "pixel module incomplete: missing BitsAllocated" in captured.err
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(instances.c.sop_uid, instances.c.study_uid,
                                            instances.c.modality)).all()
    engine.dispose()
    assert sorted(rows) == sorted((ds.SOPInstanceUID, ds.StudyInstanceUID, ds.Modality)
                                  for ds in datasets)
    # Again: idempotent, reported as unchanged.
    assert main(["ingest", str(dump_file), "--database-url", database_url]) == 0
    assert f"0 created, 0 updated, {len(datasets)} unchanged" in capsys.readouterr().out


def test_invalid_dump_exits_1_and_stores_nothing(capsys, tmp_path: Path, datasets,
                                                 database_url: str) -> None:
    good = write_dump(tmp_path / "good.json", [to_instance(datasets[1])])
    assert main(["ingest", str(good), "--database-url", database_url]) == 0
    capsys.readouterr()
    before = counts(database_url)

    bad_instances = [to_instance(ds) for ds in datasets[2:]]
    bad_instances[1]["00280010"] = {"vr": "US", "Value": [-1]}
    bad = write_dump(tmp_path / "bad.json", bad_instances)
    status = main(["ingest", str(bad), "--database-url", database_url])
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""
    assert f"error: {bad}: 1 problem(s) in the dump; nothing was stored" in captured.err
    assert "instance 1 $[1].00280010.Value[0]: US value -1 is outside [0, 65535]" \
        in captured.err
    assert counts(database_url) == before == {"studies": 1, "series": 1, "instances": 1}


def test_one_failed_file_fails_the_run_but_not_the_others(capsys, tmp_path: Path, datasets,
                                                          database_url: str) -> None:
    first = write_dump(tmp_path / "a.json", [to_instance(ds) for ds in datasets[:4]])
    broken = tmp_path / "broken.json"
    broken.write_bytes(b"[{")
    last = write_dump(tmp_path / "c.json", [to_instance(ds) for ds in datasets[4:]])
    status = main(["ingest", str(first), str(broken), str(tmp_path / "missing.json"),
                   str(last), "--database-url", database_url])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.out.count("created") == 2
    assert f"error: {broken}: body is not valid JSON" in captured.err
    assert "missing.json: cannot read" in captured.err
    assert counts(database_url)["instances"] == len(datasets)


def test_ingest_conflict_prints_the_problem(capsys, tmp_path: Path, datasets,
                                            database_url: str) -> None:
    original = to_instance(datasets[1])
    assert main(["ingest", str(write_dump(tmp_path / "a.json", [original])),
                 "--database-url", database_url]) == 0
    moved = to_instance(datasets[1])
    moved["0020000D"]["Value"] = [datasets[5].StudyInstanceUID]
    status = main(["ingest", str(write_dump(tmp_path / "b.json", [moved])),
                   "--database-url", database_url])
    err = capsys.readouterr().err
    assert status == 1 and "already stored under another study" in err


def test_ingest_from_stdin(capsys, monkeypatch, dump_file: Path, database_url: str) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(dump_file.read_bytes())))
    assert main(["ingest", "-", "--database-url", database_url]) == 0
    assert capsys.readouterr().out.startswith("-: ")


class TerminalStream(io.StringIO):
    """A stderr that says it is a terminal (a stub, to see the progress line)."""

    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("service.cli.dumps.READ_CHUNK", 1024)
    path = tmp_path / "blob.json"
    path.write_bytes(b" " * 5000)
    terminal = TerminalStream()
    assert read_input(str(path), Progress(terminal)) == path.read_bytes()
    assert terminal.getvalue().count("\r") == 5  # one update per chunk
    terminal = TerminalStream()
    Progress(terminal).clear()
    assert terminal.getvalue() == "\r\x1b[K"
    pipe = io.StringIO()
    read_input(str(path), Progress(pipe))
    Progress(pipe).update("x")
    assert pipe.getvalue() == ""


def test_migrate_creates_the_schema(capsys, database_url: str) -> None:
    assert main(["migrate", "--database-url", database_url]) == 0
    assert capsys.readouterr().out == f"schema up to date: {database_url}\n"
    engine = sa.create_engine(database_url)
    assert {"dumps", "studies", "series", "instances"} <= set(sa.inspect(engine)
                                                              .get_table_names())
    engine.dispose()
    assert counts(database_url) == {"studies": 0, "series": 0, "instances": 0}


def test_masked_url_hides_the_password() -> None:
    masked = masked_url("postgresql+psycopg://resolver:s3cret@db.internal:5432/dicom")
    assert "s3cret" not in masked
    assert masked.startswith("postgresql+psycopg://resolver:") and masked.endswith(
        "@db.internal:5432/dicom")


@pytest.mark.parametrize("command", ["migrate", "ingest"])
def test_unreachable_store_is_an_error_without_the_password(capsys, command: str,
                                                            dump_file: Path) -> None:
    argv = [command, "--database-url", "postgresql+psycopg://resolver:s3cret@127.0.0.1:1/db"]
    if command == "ingest":
        argv.insert(1, str(dump_file))
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: cannot open the store at postgresql+psycopg://")
    assert "s3cret" not in captured.err
