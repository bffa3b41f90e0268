"""The quarterly procurement packet: evidence per release, trust material, the SSDF mapping, VEX, the report.

This area stands on core only: release/procurement.py gathers what other areas
know (scope from the channels, verification results, the changelog) and hands
it here as plain records; this area writes the packet.
"""
