"""`[tool.opencode-release.channels]`: the channel repository (TUF) and where it is stored, here and in CI."""

from __future__ import annotations

from dataclasses import dataclass

from ._toml_dataclass import setting


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """The channel repository (TUF) releases are published to."""

    root: str = setting("public", "the repository folder, relative to the project", '"public"')
    storage: str = setting("filesystem", '"filesystem" or "s3://bucket/prefix"', '"s3://releases/mytool"')
    s3_endpoint: str = setting("", "an S3-compatible endpoint URL (empty: AWS)", '"http://127.0.0.1:9000"')
    ci_storage: str = setting(
        "",
        "the bucket the generated workflows' publish and refresh jobs publish to (a runner's folder is gone "
        "when the job ends, so CI always publishes to an object store); endpoint: s3-endpoint, else AWS or "
        "$AWS_ENDPOINT_URL",
        '"s3://releases/mytool"',
        derived="storage when that is s3://..., else s3://<name, lower-case>-channels",
    )
    lock_timeout_seconds: float = setting(30.0, "how long a publish waits for another publisher's lock", "30")
    # TUF metadata lifetimes: a client refuses metadata past its expiry (freeze attacks).
    timestamp_expiry_days: int = setting(7, "lifetime of the TUF timestamp role", "7")
    snapshot_expiry_days: int = setting(14, "lifetime of the TUF snapshot role", "14")
    targets_expiry_days: int = setting(365, "lifetime of the TUF targets role", "365")
    release_expiry_days: int = setting(365, "lifetime of the stable and lts/<line> roles", "365")
    nightly_expiry_days: int = setting(14, "lifetime of the nightly and snapshot roles", "14")
    hash_bin_bits: int = setting(
        8, "each channel's targets are spread over 2**bits hash bins (a publish re-signs only those it touches)", "8"
    )
    update_root: str = setting(
        "",
        "the channel repository's root.json (its metadata/1.root.json, shipped with the product) that "
        "update-check --project trusts when no --root is given; relative to the project",
        '"release/tuf-root.json"',
    )
    # The publisher's own layout (TUF consistent snapshots, channels/tuf_repo.py),
    # so the default URL is one the publisher creates.
    download_url: str = setting(
        "{homepage}/targets/{channel}/{version}/{sha256}.{file}",
        "where distributors (Homebrew, winget) download a file; placeholders {homepage}, {channel}, {version}, "
        "{sha256}, {file}",
        '"https://dl.example.net/targets/{channel}/{version}/{sha256}.{file}"',
    )


def ci_store(channels: ChannelSettings, name: str) -> str:
    """channels.ci-storage, else channels.storage if a bucket, else one named after the product (S3 bucket
    names are lower-case letters, digits, '.' and '-')."""
    if channels.ci_storage:
        return channels.ci_storage
    if channels.storage.startswith("s3://"):
        return channels.storage
    return f"s3://{name.lower().replace('_', '-')}-channels"
