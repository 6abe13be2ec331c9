"""Set-up shared by several test directories: stores (database.py), the emulator and apps
wired to it (emulated.py, demo.py, google_store.py), servers (net.py, gunicorn.py), DICOM
files and dumps, oracles (volume_oracle.py), the browser (chromium.py, browser.py).

Imported as `tests.support.…`: with --import-mode=importlib the repository root is on
sys.path. Fixtures are bound in each directory's conftest.py: they call these helpers, and a
fixture two directories share is written here once, as a factory returning the fixture
functions (tests/README.md).
"""
