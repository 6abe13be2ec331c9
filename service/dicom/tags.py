"""Named DICOM JSON keys ("GGGGEEEE") of the attributes the service reads by tag.

Each constant is its keyword in upper snake case, and its value is computed from pydicom's
data dictionary (PS3.6) at import: nothing is hand-copied, and a misspelt keyword fails
at import. Other keys are looked up with dictionary.parse_tag.
"""

from __future__ import annotations

from pydicom.datadict import tag_for_keyword


def keyword_key(keyword: str) -> str:
    """The DICOM JSON key of a dictionary keyword: "StudyInstanceUID" → "0020000D"."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"{keyword!r} is not a keyword of the DICOM data dictionary")
    return f"{tag:08X}"


SPECIFIC_CHARACTER_SET = keyword_key("SpecificCharacterSet")
SOP_CLASS_UID = keyword_key("SOPClassUID")
SOP_INSTANCE_UID = keyword_key("SOPInstanceUID")
STUDY_DATE = keyword_key("StudyDate")
SERIES_DATE = keyword_key("SeriesDate")
CONTENT_DATE = keyword_key("ContentDate")
STUDY_TIME = keyword_key("StudyTime")
SERIES_TIME = keyword_key("SeriesTime")
CONTENT_TIME = keyword_key("ContentTime")
ACCESSION_NUMBER = keyword_key("AccessionNumber")
INSTANCE_AVAILABILITY = keyword_key("InstanceAvailability")
MODALITY = keyword_key("Modality")
MODALITIES_IN_STUDY = keyword_key("ModalitiesInStudy")
INSTITUTION_NAME = keyword_key("InstitutionName")
REFERRING_PHYSICIAN_NAME = keyword_key("ReferringPhysicianName")
CODE_VALUE = keyword_key("CodeValue")
CODING_SCHEME_DESIGNATOR = keyword_key("CodingSchemeDesignator")
CODE_MEANING = keyword_key("CodeMeaning")
LONG_CODE_VALUE = keyword_key("LongCodeValue")
URN_CODE_VALUE = keyword_key("URNCodeValue")
TIMEZONE_OFFSET_FROM_UTC = keyword_key("TimezoneOffsetFromUTC")
STUDY_DESCRIPTION = keyword_key("StudyDescription")
SERIES_DESCRIPTION = keyword_key("SeriesDescription")
REFERENCED_SOP_CLASS_UID = keyword_key("ReferencedSOPClassUID")
REFERENCED_SOP_INSTANCE_UID = keyword_key("ReferencedSOPInstanceUID")
RETRIEVE_URL = keyword_key("RetrieveURL")
REFERENCED_SOP_SEQUENCE = keyword_key("ReferencedSOPSequence")

PATIENT_NAME = keyword_key("PatientName")
PATIENT_ID = keyword_key("PatientID")
PATIENT_BIRTH_DATE = keyword_key("PatientBirthDate")
PATIENT_SEX = keyword_key("PatientSex")

STUDY_INSTANCE_UID = keyword_key("StudyInstanceUID")
SERIES_INSTANCE_UID = keyword_key("SeriesInstanceUID")
STUDY_ID = keyword_key("StudyID")
SERIES_NUMBER = keyword_key("SeriesNumber")
INSTANCE_NUMBER = keyword_key("InstanceNumber")
NUMBER_OF_STUDY_RELATED_SERIES = keyword_key("NumberOfStudyRelatedSeries")
NUMBER_OF_STUDY_RELATED_INSTANCES = keyword_key("NumberOfStudyRelatedInstances")
NUMBER_OF_SERIES_RELATED_INSTANCES = keyword_key("NumberOfSeriesRelatedInstances")

SAMPLES_PER_PIXEL = keyword_key("SamplesPerPixel")
PHOTOMETRIC_INTERPRETATION = keyword_key("PhotometricInterpretation")
NUMBER_OF_FRAMES = keyword_key("NumberOfFrames")
ROWS = keyword_key("Rows")
COLUMNS = keyword_key("Columns")
BITS_ALLOCATED = keyword_key("BitsAllocated")
BITS_STORED = keyword_key("BitsStored")
HIGH_BIT = keyword_key("HighBit")
PIXEL_REPRESENTATION = keyword_key("PixelRepresentation")

PERFORMED_PROCEDURE_STEP_START_DATE = keyword_key("PerformedProcedureStepStartDate")
PERFORMED_PROCEDURE_STEP_START_TIME = keyword_key("PerformedProcedureStepStartTime")
REQUEST_ATTRIBUTES_SEQUENCE = keyword_key("RequestAttributesSequence")
MEASUREMENT_UNITS_CODE_SEQUENCE = keyword_key("MeasurementUnitsCodeSequence")
RELATIONSHIP_TYPE = keyword_key("RelationshipType")
VERIFYING_ORGANIZATION = keyword_key("VerifyingOrganization")
VERIFICATION_DATE_TIME = keyword_key("VerificationDateTime")
VALUE_TYPE = keyword_key("ValueType")
CONCEPT_NAME_CODE_SEQUENCE = keyword_key("ConceptNameCodeSequence")
CONTINUITY_OF_CONTENT = keyword_key("ContinuityOfContent")
VERIFYING_OBSERVER_SEQUENCE = keyword_key("VerifyingObserverSequence")
VERIFYING_OBSERVER_NAME = keyword_key("VerifyingObserverName")
AUTHOR_OBSERVER_SEQUENCE = keyword_key("AuthorObserverSequence")
OBSERVER_TYPE = keyword_key("ObserverType")
DATE_TIME = keyword_key("DateTime")
DATE = keyword_key("Date")
TIME = keyword_key("Time")
PERSON_NAME = keyword_key("PersonName")
UID = keyword_key("UID")
TEXT_VALUE = keyword_key("TextValue")
CONCEPT_CODE_SEQUENCE = keyword_key("ConceptCodeSequence")
MEASURED_VALUE_SEQUENCE = keyword_key("MeasuredValueSequence")
NUMERIC_VALUE = keyword_key("NumericValue")
COMPLETION_FLAG = keyword_key("CompletionFlag")
VERIFICATION_FLAG = keyword_key("VerificationFlag")
CONTENT_SEQUENCE = keyword_key("ContentSequence")

FLOAT_PIXEL_DATA = keyword_key("FloatPixelData")
DOUBLE_FLOAT_PIXEL_DATA = keyword_key("DoubleFloatPixelData")
PIXEL_DATA = keyword_key("PixelData")
