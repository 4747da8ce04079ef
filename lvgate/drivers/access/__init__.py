"""Access control over serial: Wiegand converters and door controllers (card reads, door state)."""

from lvgate.drivers.access.driver import AccessDriver

DRIVER = AccessDriver()
