"""`python -m cotmix ...` is `cotmix ...`."""

import sys

from cotmix.cli import main

sys.exit(main())
