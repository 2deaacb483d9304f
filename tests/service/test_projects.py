"""``service.projects``, the local operator's through ``service.system``: create, list and find
projects, names unique; the first start makes the ``default`` project and hands out its admin
key once, never again."""

from __future__ import annotations

import pytest

from gatekey.domain.roles import Role
from gatekey.errors import GatekeyError
from gatekey.service import Service
from gatekey.store.tables import api_keys, projects
from tests.fakes.rows import count


def test_the_first_start_hands_out_the_admin_key_once(service: Service) -> None:
    project, key = service.system.bootstrap()

    assert project.name == "default" and key is not None
    assert (key.role, key.project_id, key.name) == (Role.ADMIN, project.id, "initial admin")
    who = service.system.authenticate(key.token)
    assert (who.project_id, who.role) == (project.id, Role.ADMIN)
    again, none = service.system.bootstrap()
    assert again == project and none is None
    assert count(service, projects) == 1 and count(service, api_keys) == 1


def test_a_default_project_made_by_hand_gets_no_key(service: Service) -> None:
    made = service.system.create_project("default")
    project, key = service.system.bootstrap()
    assert project == made and key is None
    assert count(service, api_keys) == 0


def test_create_list_and_find(service: Service) -> None:
    acme = service.system.create_project("  Acme  ")
    zeta = service.system.create_project("Zeta")

    assert acme.name == "Acme" and acme.id.startswith("proj_")
    assert {p.id for p in service.system.list_projects()} == {acme.id, zeta.id}
    assert service.system.find_project("Acme") == acme
    assert service.system.find_project(zeta.id) == zeta
    for missing in ("acme-eu", "proj_01JD3W6ZK2Q8V5N0C7H9X4T1RB", ""):
        with pytest.raises(GatekeyError) as caught:
            service.system.find_project(missing)
        assert caught.value.code == "not_found"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Acme", "duplicate_name"),
        (" Acme ", "duplicate_name"),
        ("", "invalid_name"),
        ("x" * 101, "invalid_name"),
        ("tab\there", "invalid_name"),
        ("nul\x00", "invalid_input"),
    ],
)
def test_a_refused_name_creates_nothing(service: Service, name: str, code: str) -> None:
    service.system.create_project("Acme")
    with pytest.raises(GatekeyError) as caught:
        service.system.create_project(name)
    assert caught.value.code == code
    assert count(service, projects) == 1
