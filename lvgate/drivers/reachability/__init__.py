"""Reachability driver: ICMP echo, TCP connect and HTTP(S) checks for systems with no management protocol."""

from lvgate.drivers.reachability.driver import ReachabilityDriver

DRIVER = ReachabilityDriver()
