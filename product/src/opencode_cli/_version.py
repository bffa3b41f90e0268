# Rewritten by the release build with the release version.
__version__ = "1.4.0"
