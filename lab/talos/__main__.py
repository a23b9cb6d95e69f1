import sys

from .cli_hooks import main

sys.exit(main())
