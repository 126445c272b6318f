"""``python -m oioi_cli`` is the ``oioi`` command."""

from oioi_cli import main

main()
