"""`python -m schedules [--once]`: the same as `medtrack scheduler`."""

from __future__ import annotations

import sys

from schedules.main import main

if __name__ == "__main__":
    sys.exit(main())
