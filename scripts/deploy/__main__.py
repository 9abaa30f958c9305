import sys

from scripts.deploy.main import main

sys.exit(main())
