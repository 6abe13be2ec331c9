"""Set-up shared by several test directories (emulator, apps, DICOM files, dumps).

Imported as `tests.support.…`: with --import-mode=importlib the repository root is on
sys.path. Fixtures stay in each directory's conftest.py; they call these helpers.
"""
