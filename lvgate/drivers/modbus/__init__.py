"""Modbus driver: TCP, RTU on serial ports and RTU over TCP, with profiles as data."""

from lvgate.drivers.modbus.driver import ModbusDriver

DRIVER = ModbusDriver()
