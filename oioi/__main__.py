"""``python -m oioi validate …``: the core's own command (the ``oioi`` command of ``oioi_cli`` has them all)."""

from oioi.cli import main

main()
