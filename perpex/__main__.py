from __future__ import annotations

import sys

from perpex.cli import main

sys.exit(main())
