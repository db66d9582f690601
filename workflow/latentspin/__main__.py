import sys

from latentspin.cli import main

sys.exit(main())
