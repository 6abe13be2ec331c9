"""Set-up shared by several test directories: stores (database.py), the emulator and apps
wired to it (emulated.py, demo.py, google_store.py), servers (net.py, gunicorn.py), DICOM
files and dumps.

Imported as `tests.support.…`: with --import-mode=importlib the repository root is on
sys.path. Fixtures stay in each directory's conftest.py; they call these helpers.
"""
