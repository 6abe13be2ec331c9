"""The DICOMweb use cases (PS3.18): QIDO-RS search, WADO-RS metadata, instances, frames,
bulk data and rendered images. No Flask: service.api.dicomweb parses and renders."""
