"""Dumps without building every pydicom Dataset: for benchmarks and big fixtures.

The series attributes are encoded once per series; each image then only
encodes its own attributes (see ct.add_image_attributes). The result equals
`make_dump(make_study(spec))` (a test checks it) at a fraction of the cost,
and never generates pixels: the JSON of Pixel Data is only a URI.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from typing import Any

import orjson
from pydicom import Dataset

from . import common, google_json
from .spec import DEFAULT_API_ROOT, DEFAULT_STORE_PATH, StudySpec
from .study import BUILDERS, make_report_for, study_plans

logger = logging.getLogger(__name__)

_FAMILY_NAMES = ("SMITH", "GARCIA", "NGUYEN", "MÜLLER", "KOWALSKI", "OKAFOR", "TANAKA",
                 "DUBOIS", "ROSSI", "JOHANSSON", "O'BRIEN", "PATEL", "SILVA", "COHEN")
_GIVEN_NAMES = ("ANNA", "JOHN", "MARIA", "WEI", "FATIMA", "LUCAS", "SOFIA", "AHMED",
                "EMMA", "NOAH", "YUKI", "OLGA")
_DESCRIPTIONS = {
    "CT": ("CT CHEST W/O CONTRAST", "CT ABDOMEN PELVIS W CONTRAST", "CT HEAD W/O CONTRAST"),
    "MR": ("MR BRAIN W/O CONTRAST", "MR KNEE LEFT", "MR LUMBAR SPINE"),
    "SR": ("OUTSIDE REPORT", "CONSULTATION NOTE"),
}


def study_dump(
    spec: StudySpec, *, api_root: str = DEFAULT_API_ROOT, store_path: str = DEFAULT_STORE_PATH
) -> list[dict[str, Any]]:
    """The dump of `make_study(spec)`, built per series from a shared template."""
    plans = study_plans(spec)
    dump: list[dict[str, Any]] = []
    if spec.with_report:
        report = make_report_for(spec, plans)
        dump.append(google_json.to_google_json(report, api_root=api_root, store_path=store_path))
    builder = BUILDERS[spec.modality]
    study_uid = common.study_instance_uid(spec)
    for series_index, series in enumerate(plans):
        template_ds = Dataset()
        common.add_patient_and_study(template_ds, spec)
        builder.add_series_attributes(template_ds, spec, series_index)
        template = google_json.normalise(google_json.element_json(template_ds))
        # Serialised once; each image gets its own copy (callers may mutate instances).
        template_bytes = orjson.dumps(template)
        series_uid = template_ds.SeriesInstanceUID
        meta = Dataset()
        # Only (0002,0003) of the file meta changes from image to image: set below.
        meta.file_meta = common.file_meta(template_ds.SOPClassUID, series_uid)
        meta_json = google_json.file_meta_json(meta)
        for plan in series:
            image = Dataset()
            builder.add_image_attributes(image, spec, series_index, plan)
            meta_json["00020003"] = {"vr": "UI", "Value": [image.SOPInstanceUID]}
            own = {**meta_json, **google_json.element_json(image)}
            elements = {**orjson.loads(template_bytes), **google_json.normalise(own)}
            url = google_json.instance_url(
                api_root, store_path, study_uid, series_uid, image.SOPInstanceUID
            )
            dump.append(google_json.resolve(elements, url))
    return dump


def make_ct_dump(
    n_instances: int,
    *,
    seed: int = 0,
    rows: int = 512,
    columns: int = 512,
    n_series: int = 1,
    with_report: bool = False,
    **spec_fields: Any,
) -> list[dict[str, Any]]:
    """A dump of one CT study with `n_instances` slices split over `n_series` series.

    With `with_report` the SR comes first and is counted in `n_instances`.
    Extra keyword arguments are StudySpec fields. Results are cached per
    process (as bytes; every call returns fresh objects), so benchmarks and
    tests asking twice for the same dump pay once.
    """
    n_images = n_instances - (1 if with_report else 0)
    if n_images < 0 or n_series < 1 or (n_images % n_series):
        raise ValueError(f"{n_images} images cannot be split over {n_series} series")
    spec = StudySpec(
        seed=seed, rows=rows, columns=columns, n_slices=n_images // n_series,
        n_series=n_series, with_report=with_report, with_pixels=False, **spec_fields,
    )
    return orjson.loads(_encoded_study_dump(spec))


@functools.lru_cache(maxsize=8)
def _encoded_study_dump(spec: StudySpec) -> bytes:
    started = time.perf_counter()
    encoded = orjson.dumps(study_dump(spec))
    logger.debug("generated %d slices in %.2f s", spec.n_slices * spec.n_series,
                 time.perf_counter() - started)
    return encoded


def studies_specs(n_studies: int, *, seed: int = 0, slices_per_study: int = 2) -> list[StudySpec]:
    """The varied specs behind make_studies (to regenerate their datasets)."""
    rng = random.Random(seed)
    specs = []
    for index in range(n_studies):
        # Every fifth patient comes back for a second study, so patients have several.
        patient_number = index - 1 if index % 5 == 4 else index
        modality = ("CT", "MR", "CT", "SR")[index % 4]
        year = 2015 + rng.randrange(10)
        family = _FAMILY_NAMES[patient_number % len(_FAMILY_NAMES)]
        given = _GIVEN_NAMES[(patient_number * 7) % len(_GIVEN_NAMES)]
        specs.append(StudySpec(
            seed=seed * 100_003 + index,
            patient_name=f"{family}^{given}",
            patient_id=f"PAT-{seed:02d}{patient_number:05d}",
            patient_birth_date=f"{1930 + (patient_number * 37) % 75}{1 + patient_number % 12:02d}"
                               f"{1 + (patient_number * 11) % 28:02d}",
            patient_sex="MF"[patient_number % 2],
            study_date=f"{year}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}",
            study_time=f"{rng.randrange(7, 19):02d}{rng.randrange(60):02d}"
                       f"{rng.randrange(60):02d}.000000",
            accession_number=f"ACC-{seed:02d}{index:06d}",
            study_description=rng.choice(_DESCRIPTIONS[modality]),
            modality="MR" if modality == "MR" else "CT",
            n_slices=0 if modality == "SR" else slices_per_study,
            with_report=modality == "SR" or index % 3 != 1,
            rows=64,
            columns=64,
            with_pixels=False,
            noise_hu=0.0,
        ))
    return specs


def make_studies(
    n_studies: int, *, seed: int = 0, slices_per_study: int = 2
) -> list[list[dict[str, Any]]]:
    """Dumps of `n_studies` small studies of varied patients, dates and modalities.

    Studies cycle through CT, MR, CT and report-only (SR) studies; about two thirds
    of the image studies also have a report; every fifth study belongs to the
    previous study's patient. Images are 64 × 64 (the JSON does not carry pixels).
    Cached per process like make_ct_dump.
    """
    return orjson.loads(_encoded_studies(n_studies, seed, slices_per_study))


@functools.lru_cache(maxsize=8)
def _encoded_studies(n_studies: int, seed: int, slices_per_study: int) -> bytes:
    specs = studies_specs(n_studies, seed=seed, slices_per_study=slices_per_study)
    return orjson.dumps([study_dump(spec) for spec in specs])
