from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from crm.permissions import Role
from tests.conftest import make_world


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owners_and_admins_must_set_up_two_factor_first(role: Role) -> None:
    world = make_world("gama", "Gama", with_totp=False)
    client = Client()
    client.force_login(world.users[role])
    response = client.get("/t/gama/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/totp/activate")
    api = client.get("/api/v1/t/gama/me/")
    assert api.status_code == 403


@pytest.mark.django_db
def test_other_roles_do_not_need_two_factor() -> None:
    world = make_world("delta", "Delta", with_totp=False)
    client = Client()
    client.force_login(world.users[Role.CALL_CENTRE])
    assert client.get("/t/delta/").status_code == 200


@pytest.mark.django_db
def test_repeated_wrong_passwords_are_throttled() -> None:
    world = make_world("epsilon", "Epsilon")
    email = world.users[Role.MARKETING].email
    client = Client()
    for _ in range(6):
        wrong = client.post("/accounts/login/", {"login": email, "password": "yanlis"})
        assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session
    # Even the right password is refused while the account is throttled.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    right = client.post("/accounts/login/", {"login": email, "password": "test-parola-123"})
    assert right.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in right.content.decode()


@pytest.mark.django_db
def test_password_reset_sends_an_email(mailoutbox: list[Any]) -> None:
    world = make_world("zeta", "Zeta")
    email = world.users[Role.MARKETING].email
    response = Client().post("/accounts/password/reset/", {"email": email})
    assert response.status_code == 302
    assert mailoutbox and mailoutbox[0].to == [email]
    assert "/accounts/password/reset/key/" in mailoutbox[0].body


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_http_only_and_lax(settings: Any) -> None:
    assert settings.SESSION_COOKIE_HTTPONLY and settings.CSRF_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"


@pytest.mark.django_db
def test_user_with_several_companies_chooses_one() -> None:
    alpha = make_world("eta", "Eta")
    beta = make_world("theta", "Theta")
    from tests.factories import MembershipFactory

    user = alpha.users[Role.MARKETING]
    MembershipFactory(tenant=beta.tenant, user=user, role=Role.CALL_CENTRE, branch=None)
    client = Client()
    client.force_login(user)
    page = client.get("/").content.decode()
    assert "/t/eta/" in page and "/t/theta/" in page
