"""The İYS client against the fake İYS: auth, validation codes, 429, 5xx, timeouts, pull."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from consent.iys.client import (
    TURKEY,
    IysAuthError,
    IysClient,
    IysConsent,
    IysCredentials,
    IysRateLimited,
    IysUnavailable,
    IysValidationError,
    RateLimiter,
    RetryPolicy,
)
from tests.consent.fake_iys import (
    BRAND_CODE,
    IYS_CODE,
    PASSWORD,
    USERNAME,
    FakeIys,
    start_fake_iys,
)

PHONE = "+905321234567"


def make_client(
    fake: FakeIys, *, password: str = PASSWORD, timeout: float = 2.0, **kw: object
) -> IysClient:
    return IysClient(
        base_url=fake.url,
        credentials=IysCredentials(IYS_CODE, BRAND_CODE, USERNAME, password),
        timeout=timeout,
        retry=RetryPolicy(attempts=3, backoff_base=0.01, retry_after_cap=2.0),
        **kw,  # type: ignore[arg-type]
    )


def onay(recipient: str = PHONE, *, type: str = "MESAJ", minutes_ago: int = 5) -> IysConsent:
    return IysConsent(
        recipient=recipient,
        type=type,
        status="ONAY",
        source="HS_FIZIKSEL_ORTAM",
        consent_date=datetime.now(TURKEY) - timedelta(minutes=minutes_ago),
    )


def test_add_one_consent_is_stored_with_a_transaction_id(fake_iys: FakeIys) -> None:
    with make_client(fake_iys) as client:
        result = client.add_consent(onay())
    stored = fake_iys.current(BRAND_CODE, PHONE, "MESAJ")
    assert stored is not None and stored.status == "ONAY"
    assert result.transaction_id == stored.transaction_id
    assert fake_iys.grants == ["password"]


@pytest.mark.parametrize(
    ("consent", "code"),
    [
        (
            IysConsent(
                PHONE,
                "MESAJ",
                "RET",
                source="HS_WEB",
                consent_date=datetime.now(TURKEY) - timedelta(minutes=1),
            ),
            "FIRST_RECORD_RET",
        ),
        (
            IysConsent(
                PHONE,
                "MESAJ",
                "ONAY",
                source="HS_WEB",
                consent_date=datetime.now(TURKEY) + timedelta(hours=2),
            ),
            "DATE_IN_FUTURE",
        ),
        (
            IysConsent(
                PHONE,
                "MESAJ",
                "ONAY",
                source="HS_WEB",
                consent_date=datetime.now(TURKEY) - timedelta(days=10),
            ),
            "BACKDATED",
        ),
        (
            IysConsent(
                "ayse@örnek.com",
                "EPOSTA",
                "ONAY",
                source="HS_WEB",
                consent_date=datetime.now(TURKEY),
            ),
            "INVALID_RECIPIENT",
        ),
        (
            IysConsent(
                "05321234567", "MESAJ", "ONAY", source="HS_WEB", consent_date=datetime.now(TURKEY)
            ),
            "INVALID_RECIPIENT",
        ),
        (
            IysConsent(
                PHONE,
                "MESAJ",
                "ONAY",
                source="HS_2015",
                consent_date=datetime(2016, 1, 1, tzinfo=TURKEY),
            ),
            "HS_2015_DATE",
        ),
        (
            IysConsent(
                PHONE, "MESAJ", "ONAY", source="HS_KARAR", consent_date=datetime.now(TURKEY)
            ),
            "HS_KARAR_STATUS",
        ),
    ],
)
def test_rejections_carry_the_iys_error_code(
    fake_iys: FakeIys, consent: IysConsent, code: str
) -> None:
    with make_client(fake_iys) as client, pytest.raises(IysValidationError) as raised:
        client.add_consent(consent)
    assert raised.value.code == code
    assert raised.value.status == 422
    assert raised.value.detail  # İYS's own message, shown on the sync page
    assert fake_iys.records == []


def test_history_rules_same_status_older_date_and_daily_limit(fake_iys: FakeIys) -> None:
    now = datetime.now(TURKEY)
    with make_client(fake_iys) as client:
        client.add_consent(
            IysConsent(
                PHONE, "MESAJ", "ONAY", source="HS_WEB", consent_date=now - timedelta(minutes=30)
            )
        )
        with pytest.raises(IysValidationError) as same:
            client.add_consent(
                IysConsent(
                    PHONE,
                    "MESAJ",
                    "ONAY",
                    source="HS_WEB",
                    consent_date=now - timedelta(minutes=20),
                )
            )
        assert same.value.code == "SAME_STATUS"
        with pytest.raises(IysValidationError) as older:
            client.add_consent(
                IysConsent(
                    PHONE, "MESAJ", "RET", source="HS_WEB", consent_date=now - timedelta(minutes=40)
                )
            )
        assert older.value.code == "DATE_NOT_LATER"
        client.add_consent(
            IysConsent(
                PHONE, "MESAJ", "RET", source="HS_WEB", consent_date=now - timedelta(minutes=10)
            )
        )
        with pytest.raises(IysValidationError) as third:
            client.add_consent(
                IysConsent(
                    PHONE, "MESAJ", "ONAY", source="HS_WEB", consent_date=now - timedelta(minutes=5)
                )
            )
        assert third.value.code == "DAILY_LIMIT"
        # TACIR is a separate record for the same number; first record needs no date or source.
        client.add_consent(IysConsent(PHONE, "MESAJ", "ONAY", recipient_type="TACIR"))
    assert [r.status for r in fake_iys.history(BRAND_CODE, PHONE, "MESAJ")] == ["ONAY", "RET"]


def test_expired_access_token_is_refreshed_with_the_refresh_token() -> None:
    fake = start_fake_iys(access_ttl=1.0, refresh_ttl=60.0)
    try:
        with make_client(fake) as client:
            client.add_consent(onay())
            time.sleep(1.05)
            assert client.consent_status(recipient=PHONE, type="MESAJ") is not None
        assert fake.grants == ["password", "refresh_token"]
        assert fake.count("status") == 1  # no 401 round trip: renewed before expiry
    finally:
        fake.stop()


def test_revoked_token_gets_a_401_then_the_client_authenticates_again(fake_iys: FakeIys) -> None:
    with make_client(fake_iys) as client:
        client.add_consent(onay())
        fake_iys.expire_tokens(refresh_too=True)
        record = client.consent_status(recipient=PHONE, type="MESAJ")
    assert record is not None and record.status == "ONAY"
    assert [s for k, _, s in fake_iys.calls if k == "status"] == [401, 200]
    # The refresh token was revoked too: refresh fails, the password grant works.
    assert fake_iys.grants == ["password", "password"]


def test_wrong_password_is_an_auth_error_and_not_retried(fake_iys: FakeIys) -> None:
    with make_client(fake_iys, password="yanlis") as client, pytest.raises(IysAuthError):
        client.add_consent(onay())
    assert fake_iys.count("token") == 1
    assert fake_iys.records == []


def test_429_is_waited_out_using_retry_after() -> None:
    fake = start_fake_iys(rate_limits={"add": (1, 1.0)})
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    try:
        with make_client(fake, sleep=sleep) as client:
            client.add_consent(onay("+905321111111"))
            client.add_consent(onay("+905322222222"))
        statuses = [s for k, _, s in fake.calls if k == "add"]
        assert statuses == [200, 429, 200]
        assert slept == [1.0]  # Retry-After from the answer
        assert len(fake.records) == 2
    finally:
        fake.stop()


def test_429_that_persists_raises_rate_limited_with_the_wait() -> None:
    fake = start_fake_iys(rate_limits={"status": (1, 30.0)})
    try:
        with make_client(fake, sleep=lambda s: None) as client:
            assert client.consent_status(recipient=PHONE, type="MESAJ") is None
            with pytest.raises(IysRateLimited) as raised:
                client.consent_status(recipient=PHONE, type="MESAJ")
        # 30 s is more than the policy sleeps through: raised at once, for a later retry.
        assert raised.value.retry_after == 30.0
        assert [st for k, _, st in fake.calls if k == "status"] == [404, 429]
    finally:
        fake.stop()


def test_5xx_on_a_read_is_retried_with_backoff(fake_iys: FakeIys) -> None:
    slept: list[float] = []
    fake_iys.inject("status", status=503, times=2)
    with make_client(fake_iys, sleep=slept.append) as client:
        assert client.consent_status(recipient=PHONE, type="MESAJ") is None
    assert [s for k, _, s in fake_iys.calls if k == "status"] == [503, 503, 404]
    assert slept == [0.01, 0.02]


def test_5xx_on_a_write_fails_fast_and_says_the_outcome_is_unknown(fake_iys: FakeIys) -> None:
    fake_iys.inject("add", status=502)
    with make_client(fake_iys) as client, pytest.raises(IysUnavailable) as raised:
        client.add_consent(onay())
    assert raised.value.outcome_unknown
    assert fake_iys.count("add") == 1


def test_slow_answer_times_out_reads_retry_writes_do_not(fake_iys: FakeIys) -> None:
    fake_iys.inject("status", delay=1.0)
    fake_iys.inject("add", delay=1.0)
    with make_client(fake_iys, timeout=0.3) as client:
        assert client.consent_status(recipient=PHONE, type="MESAJ") is None  # second try answers
        with pytest.raises(IysUnavailable) as raised:
            client.add_consent(onay())
    assert raised.value.outcome_unknown
    time.sleep(0.9)
    # The slow write went through at İYS although the client gave up: hence status checks.
    assert fake_iys.current(BRAND_CODE, PHONE, "MESAJ") is not None


def test_async_add_and_polling_results(fake_iys: FakeIys) -> None:
    good = [onay(f"+90532000000{i}") for i in range(3)]
    bad = IysConsent(
        "+905320000009",
        "MESAJ",
        "RET",
        source="HS_WEB",
        consent_date=datetime.now(TURKEY) - timedelta(minutes=1),
    )
    with make_client(fake_iys) as client:
        submission = client.add_consents_async([*good, bad])
        first = client.async_results(submission.request_id)
        assert {r.status for r in first} == {"enqueue"}
        results = client.wait_for_async_results(submission.request_id, poll_interval=0.01)
    assert [r.status for r in results] == ["success", "success", "success", "failure"]
    assert results[3].error is not None and results[3].error.code == "FIRST_RECORD_RET"
    assert all(r.transaction_id for r in results[:3])
    assert len(submission.subrequest_ids) == 4


def test_dropped_answer_after_processing_is_outcome_unknown(fake_iys: FakeIys) -> None:
    fake_iys.inject("add_async", drop_after_processing=True)
    with make_client(fake_iys) as client, pytest.raises(IysUnavailable) as raised:
        client.add_consents_async([onay()])
    assert raised.value.outcome_unknown
    assert fake_iys.current(BRAND_CODE, PHONE, "MESAJ") is not None


def test_pull_changes_with_cursor_and_paging(fake_iys: FakeIys) -> None:
    with make_client(fake_iys) as client:
        for i in range(3):
            client.add_consent(onay(f"+90533000000{i}", minutes_ago=30))
        for i in range(3):
            fake_iys.citizen_change(BRAND_CODE, f"+90533000000{i}", "MESAJ")
        pages = list(client.iter_consent_changes(source="IYS", limit=2))
        records = [r for p in pages for r in p.records]
        assert [r.recipient for r in records] == [f"+90533000000{i}" for i in range(3)]
        assert {r.status for r in records} == {"RET"}
        assert {r.source for r in records} == {"IYS_KISAMESAJ"}
        cursor = pages[-1].after
        assert client.consent_changes(source="IYS", after=cursor).records == []
        fake_iys.citizen_change(BRAND_CODE, "+905330000000", "MESAJ", "ONAY", source="IYS_WEB")
        fresh = client.consent_changes(source="IYS", after=cursor)
        assert [(r.recipient, r.status) for r in fresh.records] == [("+905330000000", "ONAY")]
        # The brand's own changes come with source=HS.
        assert len(client.consent_changes(source="HS").records) == 3


def test_change_file_is_read_as_records(fake_iys: FakeIys) -> None:
    with make_client(fake_iys) as client:
        client.add_consent(onay())
        fake_iys.citizen_change(BRAND_CODE, PHONE, "MESAJ")
        rows = client.change_file(datetime.now(TURKEY).date())
    assert [(r.recipient, r.status, r.source) for r in rows] == [
        (PHONE, "ONAY", "HS_FIZIKSEL_ORTAM"),
        (PHONE, "RET", "IYS_KISAMESAJ"),
    ]
    assert all(r.transaction_id and r.creation_date for r in rows)


def test_client_side_limiter_spaces_calls() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter({"add_async": (2, 60.0)}, clock=lambda: now[0], sleep=sleep)
    waits = [limiter.acquire("add_async") for _ in range(5)]
    assert waits == [0.0, 0.0, 60.0, 0.0, 60.0]
    assert limiter.acquire("unlimited") == 0.0
