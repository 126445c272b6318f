"""``python -m conformance cpo|emp --url …``: certify an IUT (``oioi certify`` is the same)."""

from conformance.cli import main

main()
