"""Load and validate the app catalog: the built-in ``apps/*.yaml`` plus an operator directory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from gatekey.catalog.schema import App
from gatekey.errors import InvalidAppDefinition, UnknownApp

CatalogError = InvalidAppDefinition


class Catalog:
    """An immutable set of apps, keyed by ``App.key``."""

    def __init__(self, apps: Iterable[App]) -> None:
        self._apps: dict[str, App] = {}
        for app in apps:
            if app.key in self._apps:
                raise CatalogError(f"app key {app.key!r} is defined twice")
            self._apps[app.key] = app

    def find(self, key: str) -> App | None:
        return self._apps.get(key)

    def get(self, key: str) -> App:
        try:
            return self._apps[key]
        except KeyError:
            raise UnknownApp(f"no app with key {key!r} in the catalog", app=key) from None

    def __contains__(self, key: object) -> bool:
        return key in self._apps

    def __iter__(self) -> Iterator[App]:
        return iter(sorted(self._apps.values(), key=lambda a: a.name.lower()))

    def __len__(self) -> int:
        return len(self._apps)


_SAFE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader (the same documents, ten times faster) where PyYAML was built with it."""


def parse_app(text: str, source: str, *, builtin: bool) -> App:
    """Parse one YAML or JSON app definition; errors name the file and the field."""
    try:
        data = yaml.load(text, Loader=_SAFE)  # noqa: S506 - the safe loader, libyaml's if built
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{source}: an app definition must be a mapping")
    data.setdefault("builtin", builtin)
    return app_from_data(data, source)


def app_from_data(data: dict[str, object], source: str) -> App:
    """Validate one app definition; the error names the source and every field at fault."""
    try:
        return App.model_validate(data)
    except ValidationError as exc:
        found = [
            {
                "field": ".".join(_printable(str(p)) for p in error["loc"]) or "(root)",
                "message": error["msg"],
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        first = found[0]
        raise CatalogError(
            f"{source}: {first['field']}: {first['message']}", errors=found[:20]
        ) from None


def _printable(part: str) -> str:
    """Return a location part as is, or escaped when it holds CR, LF or other unprintables."""
    return part if part.isprintable() else repr(part)[1:-1]


def builtin_apps() -> list[App]:
    folder = resources.files("gatekey.catalog") / "apps"
    return [
        parse_app(entry.read_text("utf-8"), f"apps/{entry.name}", builtin=True)
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith((".yaml", ".yml", ".json"))
    ]


def directory_apps(folder: Path) -> list[App]:
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    return [parse_app(p.read_text("utf-8"), str(p), builtin=False) for p in files]


def load_catalog(extra_dir: Path | None = None) -> Catalog:
    """Return the built-in apps plus those in ``extra_dir`` (``GATEKEY_APPS_DIR``)."""
    apps = builtin_apps()
    if extra_dir is not None:
        apps.extend(directory_apps(extra_dir))
    return Catalog(apps)
