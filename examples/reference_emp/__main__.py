"""``python -m examples.reference_emp --api-key KEY``: serve the reference EMP in gunicorn (see ``--help``)."""

from __future__ import annotations

from examples._reference import Role, main
from examples.reference_emp import BEHAVIOURS, COMBINATIONS, DEFECTS, FAULTS, TITLE, create_app

if __name__ == "__main__":
    main(Role("emp", TITLE, create_app, DEFECTS, BEHAVIOURS, COMBINATIONS, FAULTS))
