"""Build: targets, the Nuitka driver, binary inspection, archives, smoke test, CI workflow generation."""
