"""`python -m oioi` is the `oioi` command."""

from oioi.cli import main

main()
