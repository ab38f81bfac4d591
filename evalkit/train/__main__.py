import argparse
import sys

from evalkit.errors import EvalkitError

from .loop import add_arguments, main

parser = argparse.ArgumentParser(prog="python -m evalkit.train", description=__doc__)
add_arguments(parser)
try:
    sys.exit(main(parser.parse_args()))
except EvalkitError as exc:
    print(f"python -m evalkit.train: error: {exc}", file=sys.stderr)
    sys.exit(2)
