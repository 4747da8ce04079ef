"""Maintenance workflows of the contract: inspection records, fault records, the asset register, the monthly report.

One module per concern; the tables live in the collector's shared database (``mnt_*``), beside the
alarm book they are derived from. Nothing here reads the wall clock: every entry point takes the
time, or a :class:`~lvgate.collector.maintenance.clock.Clock` (a simulated one in tests).
"""
