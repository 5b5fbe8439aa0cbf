"""Entry point of `python -m bluegreen`."""

import sys

from bluegreen.cli import main

sys.exit(main())
