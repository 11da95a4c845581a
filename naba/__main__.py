"""``python -m naba ...``: the ``naba`` command, for an environment whose scripts folder is not on PATH."""

import sys

from naba.cli import main

if __name__ == "__main__":
    sys.exit(main())
