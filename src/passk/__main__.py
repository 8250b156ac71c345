"""`python -m passk` runs the command line."""

import sys

from passk.cli import main

sys.exit(main())
