"""Use cases: one per thing the service does, Flask-free (see /docs/architecture.md).

Each takes its collaborators (store engine, bulk-data client, settings) and a
typed query, and returns a typed result or raises a service.errors error.
"""
