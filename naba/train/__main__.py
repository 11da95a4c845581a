"""``python -m naba.train CONFIG [key=value ...]``, also under ``accelerate launch`` and ``torchrun``."""

import sys

from naba.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
