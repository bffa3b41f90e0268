"""`invoke ci --simulate`: the generated workflows run by act on this machine (runner.py), with
stand-ins for the pinned actions (standins/, assemble.py) and GitHub's OIDC token rule (grants.py,
token_endpoint.py)."""
