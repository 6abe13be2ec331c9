"""Use cases: what the API and the CLI ask of the service, Flask-free, collaborators passed in."""
