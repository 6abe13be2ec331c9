"""What a synthetic study looks like: one frozen, hashable description.

Every knob of the generator is a field here so that a spec (and its seed)
fully determines the datasets: same spec, same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_STORE_PATH = (
    "projects/demo-project/locations/us-central1/datasets/demo-dataset/dicomStores/demo-store"
)
DEFAULT_API_ROOT = "https://healthcare.googleapis.com/v1"


@dataclass(frozen=True)
class StudySpec:
    """A synthetic study: one report (SR) and one or more image series."""

    seed: int = 0
    patient_name: str = "SUMBERG^ANDREW^^MR."
    patient_id: str = "PAT-0001"
    patient_birth_date: str = "19610415"
    patient_sex: str = "M"
    study_date: str = "20240312"
    study_time: str = "101502.123000"
    accession_number: str = "ACC-0001"
    study_description: str = "CT CHEST W/O CONTRAST"
    referring_physician: str = "HOUSE^GREGORY^^DR."
    institution_name: str = "EXAMPLE GENERAL HOSPITAL"
    n_slices: int = 24
    rows: int = 512
    columns: int = 512
    with_report: bool = True
    store_path: str = DEFAULT_STORE_PATH
    # "CT" (GE LightSpeed-like slices) or "MR" (a T1 axial series); the report is always SR.
    modality: str = "CT"
    # Number of image series (reconstructions of the same volume: different kernels).
    n_series: int = 1
    # Geometry, in mm: reconstruction diameter (field of view), slice thickness and spacing.
    field_of_view: float = 360.0
    slice_thickness: float = 1.25
    spacing_between_slices: float = 1.25
    # z of the first slice (mm, patient coordinates; the scan moves towards the feet).
    first_slice_z: float = -40.0
    # Generate PixelData; the DICOM JSON does not depend on it (pixels are a BulkDataURI).
    with_pixels: bool = True
    # Deterministic +-noise_hu noise in the phantom (0 for a perfectly smooth image).
    noise_hu: float = 6.0
    # --- variants for tests of ordering, geometry and pixel handling ---------------
    # InstanceNumber no longer follows the position along the scan.
    shuffle_instance_numbers: bool = False
    # Positions step towards the head instead of the feet.
    reverse_scan_direction: bool = False
    # Slices tilted about the patient's left-right axis by this many degrees (0 = axial).
    oblique_degrees: float = 0.0
    # Slice indices (0-based, in scan order) that are missing from the series (gaps).
    missing_slices: tuple[int, ...] = ()
    # Slice indices that appear twice (same position, new SOP Instance UID and number).
    duplicate_positions: tuple[int, ...] = ()
    # Add a SCOUT (localizer) image to the first series, coronal, numbered after the slices.
    localizer: bool = False
    # 16 or 12: BitsStored of the CT pixel data (int16 storage either way).
    bits_stored: int = 16
    # Rescale of the CT slices; with vary_rescale each instance picks its own pair.
    rescale_slope: float = 1.0
    rescale_intercept: float = -1024.0
    vary_rescale: bool = False
    # Pixels outside the scan circle get PixelPaddingValue -2000 (as GE scanners do).
    pixel_padding: bool = False

    def __post_init__(self) -> None:
        # Refuse specs that would produce invalid DICOM rather than write it silently.
        if self.modality not in ("CT", "MR"):
            raise ValueError(f"modality must be 'CT' or 'MR', not {self.modality!r}")
        if self.bits_stored not in (12, 16):
            raise ValueError(f"bits_stored must be 12 or 16, not {self.bits_stored}")
        if self.n_slices < 0 or self.n_series < 1:
            raise ValueError("n_slices must be >= 0 and n_series >= 1")
        if self.rows < 8 or self.columns < 8:
            raise ValueError("rows and columns must be at least 8")
        if self.rescale_slope <= 0:
            raise ValueError("rescale_slope must be positive")
        for index in (*self.missing_slices, *self.duplicate_positions):
            if not 0 <= index < self.n_slices:
                raise ValueError(f"slice index {index} outside 0..{self.n_slices - 1}")

    @property
    def pixel_spacing(self) -> float:
        """In-plane spacing (mm) of the axial slices: square pixels over the field of view."""
        return self.field_of_view / max(self.rows, self.columns)
