"""Write a new migration: python -m service.migrations revision "MESSAGE" DATABASE_URL.

The store at DATABASE_URL must be at head; autogenerate compares it with
service/store/schema.py and writes the difference as the next revision, to be read
and corrected by hand before it is committed.
"""

from __future__ import annotations

import sys

from alembic import command
from sqlalchemy import create_engine

from service.migrations import config, head


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "revision":
        sys.stderr.write(__doc__ or "")
        return 2
    message, url = argv[1], argv[2]
    number = f"{int(head()) + 1:04d}"
    engine = create_engine(url)
    with engine.begin() as connection:
        command.revision(config(connection), message=message, autogenerate=True,
                         rev_id=number)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
