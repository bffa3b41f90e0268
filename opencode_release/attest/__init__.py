"""Attest: digests, CycloneDX SBOMs, SLSA provenance, in-toto statements and links, Sigstore signing."""
