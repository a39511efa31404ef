from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from crm.permissions import Role
from tests.conftest import TenantWorld


@pytest.mark.django_db
def test_pages_are_turkish_even_for_an_english_browser() -> None:
    page = Client().get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="tr">' in page.content.decode()
    assert "Giriş Yap" in page.content.decode()


@pytest.mark.django_db
def test_the_language_switch_sticks(world_a: TenantWorld) -> None:
    client = Client()
    client.force_login(world_a.users[Role.CALL_CENTRE])
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/t/alfa/"})
    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = client.get("/t/alfa/").content.decode()
    assert '<html lang="en">' in page and "Overview" in page
    client.post("/i18n/setlang/", {"language": "tr", "next": "/t/alfa/"})
    page = client.get("/t/alfa/").content.decode()
    assert '<html lang="tr">' in page


@pytest.mark.django_db
def test_error_pages_are_turkish(world_a: TenantWorld) -> None:
    client = Client()
    client.force_login(world_a.users[Role.BRANCH_STAFF])
    forbidden = client.get("/t/alfa/members/")
    assert forbidden.status_code == 403
    assert '<html lang="tr">' in forbidden.content.decode()
    missing = client.get("/t/yok-boyle-firma/")
    assert missing.status_code == 404
    assert '<html lang="tr">' in missing.content.decode()


@pytest.mark.django_db
def test_the_api_follows_accept_language(world_a: TenantWorld) -> None:
    client = Client()
    client.force_login(world_a.users[Role.BRANCH_STAFF])
    english = client.get("/api/v1/t/alfa/jobs/999999/", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 404
    assert english.json()["detail"] == "No such job."


@pytest.mark.django_db
def test_a_crash_shows_the_friendly_500_page_not_a_stack_trace(
    world_a: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboards import selectors

    def boom(**kwargs: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(selectors, "tenant_overview", boom)
    client = Client(raise_request_exception=False)
    client.force_login(world_a.users[Role.CALL_CENTRE])
    response = client.get("/t/alfa/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "database on fire" not in body and "Traceback" not in body
    assert 'href="/"' in body
