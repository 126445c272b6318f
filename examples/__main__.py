"""``python -m examples``: certify the reference CPO and EMP (``oioi demo`` is the same)."""

from examples.demo import main

main()
