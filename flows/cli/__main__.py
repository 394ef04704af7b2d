"""``python -m form4.flows.cli``: the same as the ``form4`` command."""

import sys

from form4.flows.cli.main import main

sys.exit(main())
