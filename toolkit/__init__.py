"""toolkit: SQL-first, in-warehouse machine learning on an embedded DuckDB warehouse."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("toolkit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
