"""OCI images of the release's Linux binaries: the layout (no base image), and its push to a registry."""
