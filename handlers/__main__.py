"""`python -m handlers` is the `niangjia` command."""

from handlers.cli import main

main()
