"""pytest fixtures that stand dicom-resolver and a fake Google Healthcare API up on loopback.

Installed with `pip install "dicom-resolver[testing]"`; the plugin (`plugin.py`) loads
through the `pytest11` entry point. See the README's "Testing your service against
dicom-resolver".
"""
