"""`python -m worker`: the same as `studio-worker`."""

import sys

from worker.main import main

sys.exit(main())
