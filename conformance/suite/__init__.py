"""The conformance checks, as pytest tests: run by ``oioi certify`` or ``pytest --pyargs conformance.suite``."""
