"""Configuration from the environment (``GATEKEY_*``), with embedded defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting has a default that gives a working embedded server."""

    model_config = SettingsConfigDict(env_prefix="GATEKEY_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".gatekey")
    database_url: str | None = None
    master_keys: SecretStr | None = None
    apps_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8040
    log_level: str = "INFO"
    provider_timeout: float = 10.0
    audit_flush_interval: float = 0.2

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'gatekey.db'}"

    @property
    def master_key_file(self) -> Path:
        return self.home / "master.key"
