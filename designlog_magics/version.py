"""The package's version, in a module of its own so the command line need not import the
package's public API to print it."""

__version__ = "0.1.0"
