"""``python -m gatekey``: the same as the ``gatekey`` command."""

from gatekey.cli import main

main()
