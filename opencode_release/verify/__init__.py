"""What a distributor runs: verify a release or an artifact against its signatures, statements and policy.

The public API: `verify_release` (a release folder, offline), `verify_files`
(one artifact and its bundle), the `Report` both return, and the trust they
take (`identity_policy.load_trusted_root`, `identity_policy.load_policy`).
Every Sigstore check is sigstore-python's (bundles.py).
"""

from .artifact import Report, verify_files
from .release import verify_release

__all__ = ["Report", "verify_files", "verify_release"]
