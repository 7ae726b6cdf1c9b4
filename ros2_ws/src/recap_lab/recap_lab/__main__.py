"""`python -m recap_lab ...`: the `recap-lab` command line."""
import sys

from recap_lab.cli import main

sys.exit(main())
