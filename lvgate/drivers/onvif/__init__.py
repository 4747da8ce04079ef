"""ONVIF cameras: health levels, identity, media, clock drift, events and image health."""

from lvgate.drivers.onvif.driver import OnvifDriver

DRIVER = OnvifDriver()
