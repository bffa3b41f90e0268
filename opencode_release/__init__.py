"""opencode-release: build, attest, sign, publish and verify the OpenCode CLI."""

__version__ = "0.1.0"
