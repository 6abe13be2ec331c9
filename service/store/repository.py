"""Atomic ingest of dumps: one transaction per dump, batched writes, conflict checks."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Engine,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from service.dicom.records import InstanceRecord
from service.dicomweb import levels
from service.store.engine import WRITE
from service.store.schema import dumps as dumps_table
from service.store.schema import instance_qido, instances, series, studies

CHUNK = 500  # bound on IN (...) lists and executemany batches

__all__ = ["IngestConflict", "IngestResult", "delete_study", "ingest", "lock_studies",
           "refresh_counts"]


class IngestConflict(Exception):
    """Instances (or series) of the dump already exist under another study or series."""

    def __init__(self, conflicts: list[dict]) -> None:
        super().__init__(f"{len(conflicts)} conflicting UID(s)")
        self.conflicts = conflicts


@dataclass(slots=True)
class IngestResult:
    dump_id: int
    received: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    studies: list[str] = field(default_factory=list)
    series: list[str] = field(default_factory=list)


def _chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def ingest(engine: Engine, records: list[InstanceRecord], body: bytes) -> IngestResult:
    """Store a validated dump in one transaction; raises IngestConflict and stores nothing."""
    now = dt.datetime.now(dt.UTC)
    with engine.connect().execution_options(**WRITE) as connection, connection.begin():
        lock_studies(connection, [r.study_uid for r in records])
        existing = _existing_instances(connection, [r.sop_uid for r in records])
        _check_conflicts(connection, records, existing)
        created = [r for r in records if r.sop_uid not in existing]
        updated = [r for r in records
                   if r.sop_uid in existing and existing[r.sop_uid][2] != r.content_hash]
        result = IngestResult(dump_id=0, received=len(records), created=len(created),
                              updated=len(updated),
                              unchanged=len(records) - len(created) - len(updated))
        result.studies = sorted({r.study_uid for r in records})
        result.series = sorted({r.series_uid for r in records})
        dump_key = connection.execute(insert(dumps_table).values(
            received_at=now, body_sha256=hashlib.sha256(body).hexdigest(),
            body_bytes=len(body), received=result.received, created=result.created,
            updated=result.updated, unchanged=result.unchanged)).inserted_primary_key
        assert dump_key is not None  # an INSERT of one row
        result.dump_id = dump_key[0]
        changed = created + updated
        if changed:
            _upsert_levels(connection, changed, now)
            _write_instances(connection, created, updated, result.dump_id, now)
            refresh_counts(connection, sorted({r.study_uid for r in changed}),
                           sorted({r.series_uid for r in changed}))
    return result


def lock_studies(connection: Connection, study_uids: Iterable[str]) -> None:
    """Hold, until the transaction ends, the write lock of each study in `study_uids`.

    Every writer of a study's rows (its studies, series and instances rows, and the counts
    kept on them) takes the study's lock before it reads anything, so writers of one study
    run one after the other and each sees what the previous one committed: the counts
    stay exact under READ COMMITTED. Locks are taken in ascending key order, so two dumps
    sharing several studies cannot deadlock. A dump that would move an instance or series
    to another study holds a different lock: both insert the same key, the database makes
    the second wait for the first and then fail with a unique violation; the ingest use case
    runs it again and it finds the conflict (409).

    PostgreSQL: transaction-scoped advisory locks on a 64-bit hash of the UID (a collision
    only makes two studies queue). SQLite: nothing to do, a write transaction (BEGIN
    IMMEDIATE) already excludes every other writer.
    """
    if connection.dialect.name != "postgresql":
        return
    for key in sorted({_lock_key(uid) for uid in study_uids}):
        connection.execute(select(func.pg_advisory_xact_lock(key)))


def _lock_key(study_uid: str) -> int:
    """A signed 64-bit key (pg_advisory_xact_lock's bigint) for a Study Instance UID."""
    digest = hashlib.blake2b(b"study:" + study_uid.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _existing_instances(connection: Connection, sop_uids: list[str]) -> dict[str, tuple]:
    found: dict[str, tuple] = {}
    for chunk in _chunks(sop_uids):
        rows = connection.execute(
            select(instances.c.sop_uid, instances.c.study_uid, instances.c.series_uid,
                   instances.c.content_hash).where(instances.c.sop_uid.in_(chunk)))
        for sop_uid, study_uid, series_uid, content_hash in rows:
            found[sop_uid] = (study_uid, series_uid, bytes(content_hash))
    return found


def _check_conflicts(connection: Connection, records: list[InstanceRecord],
                     existing: dict[str, tuple]) -> None:
    conflicts = []
    for record in records:
        previous = existing.get(record.sop_uid)
        if previous and (previous[0], previous[1]) != (record.study_uid, record.series_uid):
            conflicts.append({"SOPInstanceUID": record.sop_uid,
                              "stored_study": previous[0], "stored_series": previous[1],
                              "dump_study": record.study_uid, "dump_series": record.series_uid})
    series_study = {r.series_uid: r.study_uid for r in records}
    for chunk in _chunks(list(series_study)):
        rows = connection.execute(select(series.c.series_uid, series.c.study_uid)
                                  .where(series.c.series_uid.in_(chunk)))
        for series_uid, study_uid in rows:
            if study_uid != series_study[series_uid]:
                conflicts.append({"SeriesInstanceUID": series_uid, "stored_study": study_uid,
                                  "dump_study": series_study[series_uid]})
    if conflicts:
        raise IngestConflict(conflicts)


def _upsert(connection: Connection, table: Table, key: str, rows: list[dict]) -> None:
    """Insert rows, or update them where the key exists (portable: no dialect upsert)."""
    keys = [row[key] for row in rows]
    present: set[str] = set()
    for chunk in _chunks(keys):
        present.update(connection.execute(select(table.c[key]).where(table.c[key].in_(chunk)))
                       .scalars())
    new = [row for row in rows if row[key] not in present]
    old = [{**row, "_key": row[key]} for row in rows if row[key] in present]
    if new:
        connection.execute(insert(table), new)
    if old:
        columns: dict[str, BindParameter[Any]] = {
            name: bindparam(name) for name in rows[0] if name != key}
        connection.execute(update(table).where(table.c[key] == bindparam("_key"))
                           .values(**columns), old)


def _upsert_levels(connection: Connection, changed: list[InstanceRecord],
                   now: dt.datetime) -> None:
    study_rows: dict[str, dict] = {}
    series_rows: dict[str, dict] = {}
    for record in changed:
        if record.study_uid not in study_rows:
            name = record.patient_name
            study_rows[record.study_uid] = {
                "study_uid": record.study_uid, "patient_id": record.patient_id,
                "patient_name": name, "patient_name_key": name.upper() if name else None,
                "patient_name_plain": record.patient_name_plain,
                "study_date": record.study_date, "study_time": record.study_time,
                "accession_number": record.accession_number,
                "attributes": record.study_json, "updated_at": now,
                "dicom_json": record.study_dicom_json,
            }
        if record.series_uid not in series_rows:
            series_rows[record.series_uid] = {
                "series_uid": record.series_uid, "study_uid": record.study_uid,
                "modality": record.modality, "series_number": record.series_number,
                "attributes": record.series_json, "updated_at": now,
                "dicom_json": record.series_dicom_json,
            }
            study_row = study_rows[record.study_uid]
            study_row["dicom_json"] = levels.merge_study_json(study_row["dicom_json"],
                                                              record.study_dicom_json)
    _upsert(connection, studies, "study_uid", list(study_rows.values()))
    _upsert(connection, series, "series_uid", list(series_rows.values()))


def _instance_row(record: InstanceRecord, dump_id: int, now: dt.datetime) -> dict:
    return {
        "sop_uid": record.sop_uid, "series_uid": record.series_uid,
        "study_uid": record.study_uid, "sop_class_uid": record.sop_class_uid,
        "modality": record.modality, "instance_number": record.instance_number,
        "slice_position": record.slice_position, "has_pixel_data": record.has_pixel_data,
        "pixel_module_missing": ",".join(record.pixel_module_missing) or None,
        "content_hash": record.content_hash, "dicom_json": record.dicom_json,
        "attributes": record.attributes_json, "summary": record.summary_json,
        "dump_id": dump_id, "updated_at": now,
    }


def _write_instances(connection: Connection, created: list[InstanceRecord],
                     updated: list[InstanceRecord], dump_id: int, now: dt.datetime) -> None:
    for chunk in _chunks(created):
        connection.execute(insert(instances), [_instance_row(r, dump_id, now) for r in chunk])
    for chunk in _chunks(updated):
        rows = [{**_instance_row(r, dump_id, now), "_key": r.sop_uid} for r in chunk]
        columns: dict[str, BindParameter[Any]] = {
            name: bindparam(name) for name in rows[0] if name not in ("sop_uid", "_key")}
        connection.execute(update(instances).where(instances.c.sop_uid == bindparam("_key"))
                           .values(**columns), rows)
        # Deleted and written again: instances stored before the table existed have no row.
        connection.execute(delete(instance_qido).where(
            instance_qido.c.sop_uid.in_([r.sop_uid for r in chunk])))
    for chunk in _chunks(created + updated):
        connection.execute(insert(instance_qido), [
            {"sop_uid": r.sop_uid, "dicom_json": r.qido_json} for r in chunk])


def refresh_counts(connection: Connection, study_uids: list[str],
                   series_uids: list[str]) -> None:
    """Recompute the QIDO-RS counts and ModalitiesInStudy of the given studies and series."""
    for chunk in _chunks(series_uids):
        counts: dict[str, int] = dict(connection.execute(
            select(instances.c.series_uid, func.count())
            .where(instances.c.series_uid.in_(chunk)).group_by(instances.c.series_uid)).all())
        connection.execute(
            update(series).where(series.c.series_uid == bindparam("_key"))
            .values(instance_count=bindparam("count")),
            [{"_key": uid, "count": counts.get(uid, 0)} for uid in chunk])
    for chunk in _chunks(study_uids):
        rows = connection.execute(
            select(series.c.study_uid, series.c.modality, series.c.instance_count)
            .where(series.c.study_uid.in_(chunk))).all()
        summary: dict[str, list] = {uid: [0, 0, set()] for uid in chunk}
        for study_uid, modality, count in rows:
            entry = summary[study_uid]
            entry[0] += 1
            entry[1] += count
            if modality:
                entry[2].add(modality)
        connection.execute(
            update(studies).where(studies.c.study_uid == bindparam("_key"))
            .values(series_count=bindparam("n_series"), instance_count=bindparam("n_inst"),
                    modalities=bindparam("mods")),
            [{"_key": uid, "n_series": n_series, "n_inst": n_inst,
              "mods": "\\" + "\\".join(sorted(mods)) + "\\" if mods else None}
             for uid, (n_series, n_inst, mods) in summary.items()])


def delete_study(engine: Engine, study_uid: str) -> bool:
    """Remove a study and everything below it; False when it was not stored."""
    with engine.connect().execution_options(**WRITE) as connection, connection.begin():
        lock_studies(connection, [study_uid])
        found = connection.execute(select(studies.c.study_uid)
                                   .where(studies.c.study_uid == study_uid)).first()
        if found is None:
            return False
        connection.execute(delete(instances).where(instances.c.study_uid == study_uid))
        connection.execute(delete(series).where(series.c.study_uid == study_uid))
        connection.execute(delete(studies).where(studies.c.study_uid == study_uid))
    return True
