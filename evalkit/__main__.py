"""``python -m evalkit`` (also the entry point for ``torchrun -m evalkit run ...``)."""
import sys

from .cli import main

sys.exit(main())
