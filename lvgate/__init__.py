"""lvgate: edge gateway and central collector for the low-voltage systems of a building."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lvgate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
