"""``python -m elm_snn.cli``: the ``elm-snn`` command line."""

import sys

from elm_snn.cli.app import main

sys.exit(main())
