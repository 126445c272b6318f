"""``python -m examples.reference_cpo --api-key KEY``: serve the reference CPO in gunicorn (see ``--help``)."""

from __future__ import annotations

from examples._reference import Role, main
from examples.reference_cpo import BEHAVIOURS, COMBINATIONS, DEFECTS, FAULTS, TITLE, create_app

if __name__ == "__main__":
    main(Role("cpo", TITLE, create_app, DEFECTS, BEHAVIOURS, COMBINATIONS, FAULTS))
