"""``python -m oioi_load cpo|emp --url …``: load an IUT (``oioi load`` is the same)."""

from oioi_load.cli import main

main()
