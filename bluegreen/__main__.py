"""Entry point of `python -m bluegreen`."""

import sys

from bluegreen.cli.main import main

sys.exit(main())
