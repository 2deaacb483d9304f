"""The step registry: the entry-point group and ``GATEKEY_STEPS``; nothing is imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekey.errors import InvalidInput
from gatekey.workflows.registry import StepRegistry, parse_setting


def _distribution(root: Path, entry_points: str) -> None:
    info = root / "operator_steps-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: operator-steps\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_installed_steps_come_from_the_entry_point_group_and_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _distribution(
        tmp_path,
        "[gatekey.steps]\nwelcome = operator_steps.mail:welcome\n"
        "enrich = operator_steps.crm:enrich [extra]\n"
        "[console_scripts]\nnot-a-step = operator_steps.cli:main\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = StepRegistry.installed("enrich=operator_steps.crm:enrich_v2, audit=ops.audit:log")
    # operator_steps does not exist: resolving never imports it.
    assert registry.resolve("welcome") == "operator_steps.mail:welcome"
    assert registry.resolve("enrich") == "operator_steps.crm:enrich_v2", "the setting wins"
    assert registry.resolve("audit") == "ops.audit:log"
    assert registry.resolve("operator_steps.mail:welcome") == "operator_steps.mail:welcome"
    assert registry.resolve("operator_steps.mail.welcome") == "operator_steps.mail:welcome"
    assert registry.resolve("not-a-step") is None
    assert registry.resolve("operator_steps.cli:main") is None


@pytest.mark.parametrize(
    "reference",
    ["os:system", "builtins:print", "pty:spawn", "gatekey.__main__:main", "welcome2", ""],
)
def test_anything_else_is_not_registered(reference: str) -> None:
    registry = StepRegistry(parse_setting("welcome=operator_steps.mail:welcome"))
    assert reference not in registry
    assert registry.resolve(reference) is None


@pytest.mark.parametrize("setting", ["welcome=", "=a.b:c", "welcome=os system", "a b=c:d"])
def test_a_malformed_setting_is_refused_at_start(setting: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_setting(setting)
    assert "GATEKEY_STEPS" in caught.value.message


def test_a_bare_target_registers_under_itself() -> None:
    registry = StepRegistry(parse_setting(" pkg.mod:fn ,,"))
    assert registry.names() == ["pkg.mod:fn"] and registry.resolve("pkg.mod.fn") == "pkg.mod:fn"
