"""The front of the service inside gunicorn: requests read whole, with a deadline, before
a thread serves them (see worker.py)."""
