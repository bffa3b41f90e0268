"""Stand-ins of the pinned third-party actions for `ci --simulate`: each <action>/action.yml beside
the script that does what the pinned version documents. They run as scripts on the simulated
runner (act copies each assembled action folder alone), never imported by the package."""
