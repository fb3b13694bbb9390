"""``python -m include.symphonics_devstack run|stop|status``: see :mod:`include.symphonics_devstack.devstack`."""

from __future__ import annotations

import sys

from include.symphonics_devstack.devstack import main

sys.exit(main())
