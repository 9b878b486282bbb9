"""`python -m cotmix.cli ...` is `cotmix ...`."""

import sys

from cotmix.cli import main

sys.exit(main())
