"""The plumbing every command shares: one-line errors with an exit status."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.cli import run


def test_errors_are_one_line_with_an_exit_code(env: Path) -> None:
    code, _, err = run("connections", "create", "--app", "nope", "--name", "x", "--skip-test")
    assert code == 2
    assert (
        err.strip().splitlines()[-1] == "error [unknown_app]: no app with key 'nope' in the catalog"
    )
    code, _, err = run(
        "connections",
        "create",
        "--app",
        "sendgrid",
        "--name",
        "x",
        "--field",
        "api_key=bad",
        "--skip-test",
    )
    assert code == 2 and "error [invalid_fields]" in err
    assert "bad" not in err.splitlines()[-1].split(":", 1)[1].replace("does not look", "")


def test_a_refused_input_lists_every_problem(env: Path, tmp_path: Path) -> None:
    definition = tmp_path / "flow.yaml"
    definition.write_text("steps:\n  - id: a\n    app: sendgrid\n  - bad: 1\n")
    code, _, err = run("flows", "create", "--name", "Broken", "--file", str(definition))
    assert code == 2
    first, *problems = err.strip().splitlines()[-6:]
    assert first.startswith("error [invalid_fields]: the flow definition is not valid: ")
    assert problems == [
        "  - steps.0.type: Field required",
        "  - steps.1.id: Field required",
        "  - steps.1.app: Field required",
        "  - steps.1.type: Field required",
        "  - steps.1.bad: Extra inputs are not permitted",
    ]
    code, _, err = run("connections", "create", "--app", "zendesk", "--name", "Z", "--skip-test")
    assert err.strip().splitlines()[-1] == (
        "error [invalid_fields]: invalid fields: fields.email: is required; "
        "fields.api_token: is required"
    ), "a message that names every problem is not repeated"
