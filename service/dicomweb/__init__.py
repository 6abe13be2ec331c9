"""The DICOMweb façade's pure logic (PS3.18 QIDO-RS and WADO-RS): no Flask, no SQL.

query.py parses QIDO query parameters, matching.py decides whether a DICOM
JSON dataset matches them, levels.py knows which attributes belong to which
level and which a response must carry, answers.py builds the answers,
temporal_ranges.py turns DA/TM/DT query values into comparable ranges,
uris.py rewrites BulkDataURIs, multipart_writer.py writes multipart/related
bodies, wado_accept.py reads the Accept header of retrieve requests and
body_cache.py keeps WADO-RS metadata bodies by ETag.
"""
