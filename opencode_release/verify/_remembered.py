"""The library's own verifications, remembered for inputs it has already accepted.

A release's bundles are signed in one session: they share one Fulcio
certificate (so one chain and one SCT) and one checkpoint, and their log
entries fall on a few dozen distinct seconds. sigstore-python's Verifier
checks each of these again for every bundle: of its five signature
verifications per bundle, the SCT and the checkpoint signature are the same
bytes under the same key every time, and the certificate chain is rebuilt for
the same certificate at the same second.

Each of those checks is a pure function of its inputs: a keyring's verdict on
(key hint, signature, signed bytes), and a chain's verdict on (certificate,
time) against the one Fulcio chain of the trusted root. So the library decides
each distinct input once, exactly as it would, and an input equal in every
byte is answered from that decision. Only acceptances are kept, so a refusal
is always the library's fresh refusal; a different byte anywhere is a
different input, decided anew. Both memories are bounded and belong to one
verifier (one trusted root).

Private API relied on (pinned, named in tests/unit/test_sigstore_private_api.py):
`Keyring.verify(key_id=, signature=, data=)` and its `_keyring` dict, and
`Verifier._verify_chain_at_time(certificate, timestamp_result)`.
"""

from __future__ import annotations

import datetime

from cryptography.x509 import Certificate
from sigstore._internal.timestamp import TimestampVerificationResult
from sigstore._internal.trust import Keyring
from sigstore._utils import KeyID
from sigstore.verify import Verifier

# Far above what one release needs (a handful of keyring inputs that repeat, one
# chain per second of signing); a hostile release cannot grow the memory past it.
MAX_REMEMBERED = 4096


class RememberingKeyring(Keyring):
    """The same keys as `inner`; a signature it accepted over the same bytes is accepted again."""

    def __init__(self, inner: Keyring) -> None:
        super().__init__()
        self._keyring = inner._keyring
        self._accepted: set[tuple[KeyID, bytes, bytes]] = set()

    def verify(self, *, key_id: KeyID, signature: bytes, data: bytes) -> None:
        # The key id is part of the input: the library tries only the hinted key when it knows it.
        remembered = (key_id, bytes(signature), bytes(data))
        if remembered in self._accepted:
            return
        super().verify(key_id=key_id, signature=signature, data=data)
        if len(self._accepted) >= MAX_REMEMBERED:
            self._accepted.clear()
        self._accepted.add(remembered)


class RememberingVerifier(Verifier):
    """sigstore-python's Verifier; a chain it built for a certificate at a time is reused for both again."""

    _chains: dict[tuple[Certificate, datetime.datetime], list[Certificate]]

    def _verify_chain_at_time(
        self, certificate: Certificate, timestamp_result: TimestampVerificationResult
    ) -> list[Certificate]:
        chains = self.__dict__.setdefault("_chains", {})
        remembered = (certificate, timestamp_result.time)
        chain = chains.get(remembered)
        if chain is None:
            chain = super()._verify_chain_at_time(certificate, timestamp_result)
            if len(chains) >= MAX_REMEMBERED:
                chains.clear()
            chains[remembered] = chain
        return list(chain)
