"""`python -m cgsampler`: the command line (see cgsampler.cli)."""
import sys

from cgsampler.cli import main

if __name__ == "__main__":
    sys.exit(main())
