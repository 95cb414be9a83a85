"""``python -m ddbstream.cli``: the same as the ``ddbstream`` command."""

import sys

from ddbstream.cli import main

sys.exit(main())
