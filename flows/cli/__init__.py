"""The command line: ``main`` (the ``form4`` command and its subcommands), ``output`` (what it
prints), ``demo`` (the offline demo) and ``mirror`` (the loopback EDGAR mirror the demo, the
tests and the bench serve from). The entry point is ``form4.flows.cli.main:main``."""

__all__: list[str] = []
