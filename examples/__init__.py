"""Reference implementations of OIOI partners, with switchable faults, for certifying a conformance suite."""
