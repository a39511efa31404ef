"""A branch import runs on a real worker while the job page shows its progress live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import FilePayload, Page, Request, expect

from crm.models import Branch, Job
from crm.permissions import Role
from crm.tenancy import tenant_context
from tests.browser.pages import log_in, path_is
from tests.conftest import TenantWorld

pytestmark = pytest.mark.browser

CSV = (
    "code;name;province;district;address\n"
    "IZM-01;İzmir Alsancak;İzmir;Konak;Kıbrıs Şehitleri Cad. 5\n"
    "ANK-01;Ankara Kızılay;ANKARA;Çankaya;\n"
    "XXX-01;Hatalı Şube;Narnia;;\n"
)
JOB_TIMEOUT_MS = 30_000


def test_branch_import_progress_is_polled_until_done(
    page: Page, world_a: TenantWorld, celery_worker_thread: None
) -> None:
    slug = world_a.tenant.slug
    log_in(page, world_a.owner.email, totp_secret=world_a.totp_secrets[Role.OWNER])
    page.goto(f"/t/{slug}/branches/")
    # In English, so the summary can be read without depending on the Turkish wording.
    page.get_by_test_id("language-switch").locator("button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    import_form = page.locator(f"form[action='/t/{slug}/branches/import/']")
    expect(import_form).to_be_visible()
    upload: FilePayload = {
        "name": "subeler.csv",
        "mimeType": "text/csv",
        "buffer": CSV.encode("utf-8"),
    }
    import_form.locator("input[name=file]").set_input_files(files=upload)
    polls: list[str] = []

    def count_polls(request: Request) -> None:
        if request.url.endswith("/progress/"):
            polls.append(request.url)

    page.on("request", count_polls)
    import_form.locator("button[type=submit]").click()

    expect(page).to_have_url(re.compile(rf"/t/{slug}/jobs/\d+/$"))
    job_path = re.sub(r"^https?://[^/]+", "", page.url)
    card = page.get_by_test_id("job-progress")
    expect(card).to_be_visible()
    first_status = card.get_attribute("data-status")
    # The worker finishes on its own; the card learns it by polling (no reload here).
    expect(card).to_have_attribute("data-status", "succeeded", timeout=JOB_TIMEOUT_MS)
    expect(page).to_have_url(path_is(job_path))
    if first_status != "succeeded":
        assert polls, "the card reached 'succeeded' without polling the server"

    # The worker wrote the summary in the language the upload was made in.
    expect(card).to_contain_text(re.compile(r"\b2 created\b"))
    expect(card).to_contain_text(re.compile(r"\b1 rows? with errors\b"))
    expect(card.locator(".progress-bar")).to_have_text("100%")
    expect(card).not_to_have_attribute("hx-get", re.compile(".*"))  # polling stopped

    download = card.locator(f"a[href='{job_path}download/']")
    expect(download).to_be_visible()
    expect(download).to_contain_text("branch-import-errors.csv")
    report = page.request.get(download.get_attribute("href") or "")
    assert report.ok
    assert "XXX-01" in report.text() and "Narnia" in report.text()

    job_id = int(job_path.rstrip("/").rsplit("/", 1)[-1])
    with tenant_context(world_a.tenant):
        job = Job.objects.get(pk=job_id)
        assert job.result == {"created": 2, "updated": 0, "errors": 1, "rows": 3}
        assert set(Branch.objects.values_list("code", flat=True)) == {
            world_a.branch.code,
            "IZM-01",
            "ANK-01",
        }
