"""What a distributor runs: verify a release or an artifact against its signatures, statements and policy."""
