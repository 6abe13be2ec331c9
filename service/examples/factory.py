"""The generator's public interface: synthetic studies shaped like a Google export.

    datasets = make_study(StudySpec(n_slices=24))      # pydicom Datasets, SR first
    dump = make_dump(datasets)                           # Google DICOMweb metadata JSON
    write_dicom_files(datasets, folder)                  # one .dcm per instance
    make_ct_dump(1000)                                   # fast JSON-only CT dump
    make_studies(500)                                    # many varied small studies

Everything is deterministic: the same spec (seed included) gives the same bytes.
"""

from __future__ import annotations

from .fast import make_ct_dump, make_studies, studies_specs, study_dump
from .files import write_dicom_files
from .google_json import dump_bytes, make_dump, to_google_json
from .shipped import EXAMPLE_SPEC, example_datasets, load_example_dump
from .spec import DEFAULT_API_ROOT, DEFAULT_STORE_PATH, StudySpec
from .study import make_study

__all__ = [
    "DEFAULT_API_ROOT",
    "DEFAULT_STORE_PATH",
    "EXAMPLE_SPEC",
    "StudySpec",
    "dump_bytes",
    "example_datasets",
    "load_example_dump",
    "make_ct_dump",
    "make_dump",
    "make_studies",
    "make_study",
    "studies_specs",
    "study_dump",
    "to_google_json",
    "write_dicom_files",
]
