"""A whole synthetic study as pydicom datasets: the report first, then the images."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydicom import Dataset

from . import common, ct, mr, sr
from .geometry import ImagePlan, plan_series
from .spec import StudySpec


@dataclass(frozen=True)
class ModalityBuilder:
    """How to build one modality's images, in the parts the fast dump path reuses."""

    add_series_attributes: Callable[[Dataset, StudySpec, int], None]
    add_image_attributes: Callable[[Dataset, StudySpec, int, ImagePlan], None]
    make_image: Callable[[StudySpec, int, ImagePlan], Dataset]


BUILDERS = {
    "CT": ModalityBuilder(ct.add_series_attributes, ct.add_image_attributes, ct.make_ct_image),
    "MR": ModalityBuilder(mr.add_series_attributes, mr.add_image_attributes, mr.make_mr_image),
}


def study_plans(spec: StudySpec) -> list[list[ImagePlan]]:
    """The planned images of each image series of the study."""
    return [plan_series(spec, index) for index in range(spec.n_series)]


def make_report_for(spec: StudySpec, plans: list[list[ImagePlan]]) -> Dataset:
    """The study's report, citing every image as evidence."""
    evidence = [
        (
            common.series_instance_uid(spec, index),
            [common.sop_instance_uid(spec, index, plan) for plan in series],
        )
        for index, series in enumerate(plans)
        if series
    ]
    return sr.make_report(spec, evidence)


# The spec make_study uses when called without one (a frozen, shareable value).
DEFAULT_SPEC = StudySpec()


def make_study(spec: StudySpec = DEFAULT_SPEC) -> list[Dataset]:
    """The study's instances: the SR report (if any), then each series in scan order."""
    plans = study_plans(spec)
    datasets = [make_report_for(spec, plans)] if spec.with_report else []
    builder = BUILDERS[spec.modality]
    for series_index, series in enumerate(plans):
        datasets.extend(builder.make_image(spec, series_index, plan) for plan in series)
    return datasets
