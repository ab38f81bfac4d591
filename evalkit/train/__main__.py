import argparse
import sys

from .loop import add_arguments, main

parser = argparse.ArgumentParser(prog="python -m evalkit.train", description=__doc__)
add_arguments(parser)
sys.exit(main(parser.parse_args()))
