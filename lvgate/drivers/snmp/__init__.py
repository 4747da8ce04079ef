"""SNMP driver: switches, UPS cards, environment monitors and hosts, from standard and vendor MIBs."""

from lvgate.drivers.snmp.driver import SnmpDriver

DRIVER = SnmpDriver()
