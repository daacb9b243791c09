import sys

from core.cli.main import main

raise SystemExit(main(["worker", *sys.argv[1:]]))
