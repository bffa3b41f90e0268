"""The release: the one ordered pipeline, its runner and session, the merge of partial ledgers."""
