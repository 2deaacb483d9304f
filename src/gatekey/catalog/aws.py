"""AWS Signature Version 4 as data: every request signed for a service and region, with a
user's access keys or, through STS ``AssumeRole`` (with an external id), with temporary
credentials renewed before they expire.

``service`` and ``region`` are templates (``{region}`` from config); ``assume_role`` names the
config fields holding the role ARN and the external id: when the connection's role ARN is set,
Gatekey calls STS with the stored keys and hands out only the temporary credentials, never the
keys it called STS with. Signing and STS are botocore's (``SigV4Auth``, the ``sts`` client).
"""

from __future__ import annotations

from pydantic import Field

from gatekey.catalog.minted import Minted
from gatekey.catalog.text import PlainText

#: An IAM role ARN: ``arn:<partition>:iam::<12-digit account>:role/<path and name>``.
ROLE_ARN = r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$"


class AssumeRole(Minted):
    """Which config fields drive STS AssumeRole, and for how long the session lasts."""

    role_arn: str = Field(default="role_arn", pattern=r"^[a-z][a-z0-9_]*$")
    external_id: str | None = Field(default="external_id", pattern=r"^[a-z][a-z0-9_]*$")
    session_name: PlainText = Field(default="gatekey-{connection_id}", max_length=64)
    duration_seconds: int = Field(default=3600, ge=900, le=43200)
    sts_url: PlainText | None = Field(
        default=None,
        description="the STS endpoint when not the regional one (`https://sts.{region}."
        "amazonaws.com`)",
    )


class AwsSpec(Minted):
    """The service and region requests are signed for, and the keys' field names."""

    service: PlainText = Field(min_length=1, description="the signing name (`s3`, `ses`)")
    region: PlainText = Field(default="{region}", min_length=1)
    access_key_id: str = Field(default="access_key_id", pattern=r"^[a-z][a-z0-9_]*$")
    secret_access_key: str = Field(default="secret_access_key", pattern=r"^[a-z][a-z0-9_]*$")
    assume_role: AssumeRole | None = None
    unsigned_payload: bool = Field(
        default=False, description="S3: sign with `UNSIGNED-PAYLOAD` (S3SigV4Auth does)"
    )

    def templates(self) -> list[str]:
        out = [self.service, self.region]
        if self.assume_role is not None:
            out.append(self.assume_role.session_name)
            if self.assume_role.sts_url:
                out.append(self.assume_role.sts_url)
        return out
