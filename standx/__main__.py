from __future__ import annotations

import sys

from standx.cli import main

sys.exit(main())
