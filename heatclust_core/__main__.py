import sys

from heatclust_core.cli import main

sys.exit(main())
