"""The DICOMweb façade's pure logic (PS3.18 QIDO-RS and WADO-RS): no Flask, no SQL.

query.py parses QIDO query parameters, matching.py decides whether a DICOM
JSON dataset matches them, levels.py knows which attributes belong to which
level and which a response must carry, select.py builds the answers,
uris.py rewrites BulkDataURIs, multipart.py writes multipart/related bodies
and negotiate.py reads the Accept header of retrieve requests.
"""
