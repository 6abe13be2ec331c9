"""`dicom-resolver ingest` when the database refuses the dump: the type and SQLSTATE of
the error on stderr, never the row PostgreSQL or SQLAlchemy would quote."""

from __future__ import annotations

from pathlib import Path

import orjson
import sqlalchemy as sa

from service.cli import main
from service.examples.factory import StudySpec, make_dump, make_study

NAME = "QZXCLI^SECRETNAME"
PATIENT_ID = "QZX-CLI-31337"


def test_a_database_error_prints_no_patient_data(capsys, tmp_path: Path,
                                                 postgres_url: str) -> None:
    assert main(["migrate", "--database-url", postgres_url]) == 0
    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'refused %% %%', NEW.patient_name, NEW.patient_id; END $$; "
            "CREATE TRIGGER refuse BEFORE INSERT ON studies FOR EACH ROW "
            "EXECUTE FUNCTION refuse()")
    admin.dispose()
    dump = tmp_path / "dump.json"
    dump.write_bytes(orjson.dumps(make_dump(make_study(StudySpec(
        seed=3, n_slices=1, rows=8, columns=8, patient_name=NAME, patient_id=PATIENT_ID)))))
    capsys.readouterr()
    status = main(["ingest", str(dump), "--database-url", postgres_url])
    captured = capsys.readouterr()
    assert status == 1
    assert "the store failed (ProgrammingError (SQLSTATE P0001) from RaiseException)" \
        in captured.err
    assert "nothing was stored" in captured.err
    for secret in (NAME, "QZXCLI", "SECRETNAME", PATIENT_ID):
        assert secret not in captured.err + captured.out
