"""`python -m kubric_gen.pipeline run WORLD ...` (the same as `kubric-gen run WORLD ...`)."""

import sys

from kubric_gen.cli import main

sys.exit(main())
