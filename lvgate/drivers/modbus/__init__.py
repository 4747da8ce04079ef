"""Modbus TCP driver (RTU and the full type set come with the Modbus issue)."""

from lvgate.drivers.modbus.driver import ModbusDriver

DRIVER = ModbusDriver()
