"""The ground: configuration, errors, versions, the ledger, the stage contract, durable writes and formats."""
