"""Channels: the stable / LTS / nightly repository: layout, TUF metadata, atomic publish, storage, update client."""
