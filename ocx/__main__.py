from __future__ import annotations

import sys

from ocx.cli import main

sys.exit(main())
