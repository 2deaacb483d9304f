"""A python step for examples/greeting.yaml.

A step is a plain function ``(input, auths, steps) -> JSON data``: the run's input, the
credentials of the step's connection (``auths["sandbox"]["access_token"]``; never print them,
although Gatekey masks what a step prints), and the outputs of the steps before it (``steps["me"]``). It runs in
a child process of its own, with no access to Gatekey's files.
"""

from typing import Any


def greeting(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    me = steps["me"]["body"]  # the http step's output: {"status": 200, "body": {...}}
    word = str(run_input.get("greeting", "Hello"))
    return {"message": f"{word}, {me['email']}!", "scopes": me["scope"].split()}
