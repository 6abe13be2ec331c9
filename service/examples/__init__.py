"""Synthetic example studies shaped like a Google Cloud Healthcare DICOMweb export.

The public interface is in service.examples.factory.
"""
