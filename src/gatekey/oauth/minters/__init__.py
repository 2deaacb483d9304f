"""The minters of the recipes that obtain their tokens unattended (``oauth.minting``)."""
