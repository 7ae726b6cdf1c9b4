"""`python -m recap_trainer.cli ...` (what `torchrun` launches for multi-process training)."""

import sys

from recap_trainer.cli import main

sys.exit(main())
