import sys

from bluegreen_app.server import main

sys.exit(main(sys.argv[1:]))
