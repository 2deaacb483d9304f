"""One minter per recipe kind that obtains its token unattended (``oauth.minting``)."""
