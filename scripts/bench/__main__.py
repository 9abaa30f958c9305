import sys

from scripts.bench.main import main

sys.exit(main())
