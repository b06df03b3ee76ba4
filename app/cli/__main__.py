"""`python -m app.cli`, the same as `studio`."""

import sys

from app.cli import main

sys.exit(main())
