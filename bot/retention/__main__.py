import sys

from bot.retention.purge import main

sys.exit(main())
