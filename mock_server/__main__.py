"""``python -m mock_server emp|cpo|send|journal``: the mock partner's command (``oioi mock`` is the same)."""

from mock_server.cli import main

main()
