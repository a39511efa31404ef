"""A typed client for the İYS brand API (İleti Yönetim Sistemi).

Shapes follow COMPLIANCE.md §1 and the public İYS clients: OAuth2 password grant
with refresh, ``/sps/{iysCode}/brands/{brandCode}/...`` for everything else.

What callers can rely on:

- Every failure is an ``IysError`` subclass carrying the HTTP status and İYS's
  ``errors`` list (``code``, ``message``, ``location``); no httpx exception leaks out.
- The access token is fetched lazily, refreshed with the refresh token before it
  expires, and fetched again once on a 401 (İYS may revoke tokens early).
- 429 answers are waited out (``Retry-After``, capped) and retried a few times for
  every call: İYS refuses them before doing anything, so a retry cannot duplicate.
- Reads are retried with exponential backoff on 5xx and timeouts. Writes are not:
  a timed-out write may have been stored, so the client raises
  ``IysUnavailable(outcome_unknown=True)`` and the sync layer checks İYS's state
  before sending again (consent/iys/sync.py).
- A client-side limiter keeps each call kind under the rates İYS publishes
  (settings.IYS_RATE_LIMITS; the figures are **uncertain**, see COMPLIANCE.md).
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx

TURKEY = ZoneInfo("Europe/Istanbul")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# The largest batch İYS accepts in one asynchronous add.
MAX_ASYNC_BATCH = 10_000


def format_iys_datetime(value: datetime) -> str:
    """İYS dates are ``YYYY-MM-DD HH:mm:ss`` in Turkey time, without an offset."""
    if value.tzinfo is None:
        raise ValueError("İYS dates must be timezone-aware before conversion")
    return value.astimezone(TURKEY).strftime(DATE_FORMAT)


def parse_iys_datetime(value: str) -> datetime:
    return datetime.strptime(value.strip()[:19], DATE_FORMAT).replace(tzinfo=TURKEY)


# --- Errors ------------------------------------------------------------------------


@dataclass(frozen=True)
class IysErrorDetail:
    code: str
    message: str
    location: tuple[str, ...] = ()


class IysError(Exception):
    """İYS refused or could not answer. ``code`` is İYS's first error code, if any."""

    def __init__(
        self, message: str, *, status: int | None = None, errors: Sequence[IysErrorDetail] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = list(errors)

    @property
    def code(self) -> str:
        return self.errors[0].code if self.errors else ""

    @property
    def detail(self) -> str:
        return self.errors[0].message if self.errors else str(self)


class IysAuthError(IysError):
    """The credentials were refused: a person has to fix them; retrying will not help."""


class IysValidationError(IysError):
    """İYS rejected the content (400/422): the consent itself must change."""


class IysNotFound(IysError):
    pass


class IysRateLimited(IysError):
    def __init__(self, message: str, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class IysUnavailable(IysError):
    """5xx, timeout or a broken connection: try later.

    ``outcome_unknown`` is set when a write may have reached İYS anyway.
    """

    def __init__(self, message: str, *, outcome_unknown: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.outcome_unknown = outcome_unknown


# --- Values -----------------------------------------------------------------------


@dataclass(frozen=True)
class IysConsent:
    """One consent as İYS knows it (the fields İYS stores, no local proof)."""

    recipient: str
    type: str  # MESAJ | ARAMA | EPOSTA
    status: str  # ONAY | RET
    recipient_type: str = "BIREYSEL"  # BIREYSEL | TACIR
    source: str = ""
    consent_date: datetime | None = None

    def as_json(self) -> dict[str, str]:
        body = {
            "recipient": self.recipient,
            "type": self.type,
            "status": self.status,
            "recipientType": self.recipient_type,
        }
        # TACIR first records may leave these out; İYS refuses empty strings.
        if self.source:
            body["source"] = self.source
        if self.consent_date is not None:
            body["consentDate"] = format_iys_datetime(self.consent_date)
        return body

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.recipient, self.recipient_type, self.type)


@dataclass(frozen=True)
class IysRecord(IysConsent):
    """A consent read back from İYS (status query, change list or change file)."""

    creation_date: datetime | None = None
    transaction_id: str = ""
    retailer_code: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IysRecord:
        def when(name: str) -> datetime | None:
            raw = data.get(name)
            return parse_iys_datetime(str(raw)) if raw else None

        return cls(
            recipient=str(data["recipient"]),
            type=str(data["type"]),
            status=str(data["status"]),
            recipient_type=str(data.get("recipientType") or "BIREYSEL"),
            source=str(data.get("source") or ""),
            consent_date=when("consentDate"),
            creation_date=when("creationDate"),
            transaction_id=str(data.get("transactionId") or ""),
            retailer_code=str(data.get("retailerCode") or ""),
        )


@dataclass(frozen=True)
class AddResult:
    transaction_id: str
    creation_date: datetime | None


@dataclass(frozen=True)
class AsyncSubmission:
    request_id: str
    subrequest_ids: list[str]


@dataclass(frozen=True)
class AsyncItemResult:
    """One line of an asynchronous add: ``status`` is success, failure or enqueue."""

    index: int
    status: str
    subrequest_id: str = ""
    transaction_id: str = ""
    creation_date: datetime | None = None
    error: IysErrorDetail | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("success", "failure")


@dataclass(frozen=True)
class ChangePage:
    after: str
    records: list[IysRecord]


@dataclass(frozen=True)
class IysCredentials:
    iys_code: str
    brand_code: str
    username: str
    password: str


# --- Client-side rate limiting ----------------------------------------------------


class RateLimiter:
    """Sliding-window limits per call kind, shared by the clients of one process."""

    def __init__(
        self,
        limits: Mapping[str, tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = dict(limits)
        self._clock = clock
        self._sleep = sleep
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, kind: str) -> float:
        """Wait until a call of ``kind`` is allowed; returns the seconds waited."""
        if kind not in self.limits:
            return 0.0
        count, window = self.limits[kind]
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                calls = self._calls.setdefault(kind, deque())
                while calls and now - calls[0] >= window:
                    calls.popleft()
                if len(calls) < count:
                    calls.append(now)
                    return waited
                pause = window - (now - calls[0])
            self._sleep(pause)
            waited += pause


# --- The client -------------------------------------------------------------------


@dataclass
class IysToken:
    """Tokens with their expiry as wall-clock seconds (so they can outlive a process)."""

    access: str = ""
    refresh: str = ""
    access_until: float = 0.0
    refresh_until: float = 0.0


class TokenStore(Protocol):
    """Where a client keeps its tokens between runs (İYS allows few logins per hour)."""

    def load(self) -> IysToken | None: ...

    def save(self, token: IysToken) -> None: ...


@dataclass
class RetryPolicy:
    attempts: int = 4  # calls in total for a retryable failure
    backoff_base: float = 0.5  # seconds; doubles per attempt
    backoff_cap: float = 30.0
    retry_after_cap: float = 10.0  # longer Retry-After: raise at once


@dataclass
class IysClient:
    """One brand's view of İYS. Not thread-safe; make one per task."""

    base_url: str
    credentials: IysCredentials
    timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limiter: RateLimiter | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    transport: httpx.BaseTransport | None = None
    token_store: TokenStore | None = None
    wall_clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=self.base_url.rstrip("/"),
            timeout=httpx.Timeout(self.timeout),
            transport=self.transport,
            headers={"Accept": "application/json"},
        )
        self._token = (self.token_store.load() if self.token_store else None) or IysToken()
        self.token_requests = 0  # how often we authenticated (tests and the sync page read it)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> IysClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _brand_path(self) -> str:
        c = self.credentials
        return f"/sps/{c.iys_code}/brands/{c.brand_code}"

    # --- auth ---

    def _authenticate(self) -> None:
        now = self.wall_clock()
        if self._token.refresh and now < self._token.refresh_until - 5:
            body = {"refresh_token": self._token.refresh, "grant_type": "refresh_token"}
            try:
                self._token_call(body)
                return
            except IysAuthError:
                pass  # refresh token revoked: fall back to the password
        self._token_call(
            {
                "username": self.credentials.username,
                "password": self.credentials.password,
                "grant_type": "password",
            }
        )

    def _token_call(self, body: dict[str, str]) -> None:
        self.token_requests += 1
        response = self._send("token", "POST", "/oauth2/token", json=body, authorised=False)
        if response.status_code in (400, 401, 403):
            raise IysAuthError(
                "İYS refused the credentials",
                status=response.status_code,
                errors=_errors_of(response),
            )
        self._raise_for_status(response, write=False)
        data = response.json()
        now = self.wall_clock()
        self._token = IysToken(
            access=str(data["access_token"]),
            refresh=str(data.get("refresh_token") or ""),
            # Renew a little early so a token does not expire in flight.
            access_until=now + float(data.get("expires_in") or 0) * 0.9,
            refresh_until=now + float(data.get("refresh_expires_in") or 0),
        )
        if self.token_store is not None:
            self.token_store.save(self._token)

    def _access_token(self) -> str:
        if not self._token.access or self.wall_clock() >= self._token.access_until:
            self._authenticate()
        return self._token.access

    # --- transport ---

    def _send(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        authorised: bool = True,
    ) -> httpx.Response:
        """One HTTP exchange with 429 handling; transport failures become IysUnavailable."""
        write = method == "POST" and kind in ("add", "add_async")
        for attempt in range(1, self.retry.attempts + 1):
            if self.limiter is not None:
                self.limiter.acquire(kind)
            headers = {"Authorization": f"Bearer {self._access_token()}"} if authorised else {}
            try:
                response = self._http.request(
                    method, path, json=json, params=params, headers=headers
                )
            except httpx.TimeoutException as error:
                raise IysUnavailable(
                    f"İYS did not answer in {self.timeout:g} s", outcome_unknown=write
                ) from error
            except httpx.TransportError as error:
                # A connection broken after the request left may still have been processed.
                raise IysUnavailable(
                    f"İYS connection failed: {error}", outcome_unknown=write
                ) from error
            if response.status_code == 429:
                wait = _retry_after(response)
                # A long wait is not slept through here: the caller (a Celery task)
                # schedules a retry instead of holding a worker.
                if attempt == self.retry.attempts or wait > self.retry.retry_after_cap:
                    raise IysRateLimited(
                        "İYS rate limit reached",
                        retry_after=wait,
                        status=429,
                        errors=_errors_of(response),
                    )
                self.sleep(wait)
                continue
            if response.status_code == 401 and authorised and attempt == 1:
                # The token was revoked or expired early: fetch a new one, once.
                self._token = IysToken(
                    refresh=self._token.refresh, refresh_until=self._token.refresh_until
                )
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """A call with backoff on transient failures for reads; writes fail fast."""
        write = kind in ("add", "add_async")
        delay = self.retry.backoff_base
        for attempt in range(1, self.retry.attempts + 1):
            try:
                response = self._send(kind, method, path, json=json, params=params)
                self._raise_for_status(response, write=write)
                return response
            except IysUnavailable:
                if write or attempt == self.retry.attempts:
                    raise
            self.sleep(min(delay, self.retry.backoff_cap))
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_for_status(self, response: httpx.Response, *, write: bool) -> None:
        status = response.status_code
        if status < 400:
            return
        errors = _errors_of(response)
        text = errors[0].message if errors else response.reason_phrase
        if status >= 500:
            # A 5xx from a gateway may hide a write that went through.
            raise IysUnavailable(
                f"İYS error {status}: {text}", status=status, errors=errors, outcome_unknown=write
            )
        if status == 404:
            raise IysNotFound(text, status=status, errors=errors)
        if status in (401, 403):
            raise IysAuthError(text, status=status, errors=errors)
        raise IysValidationError(text, status=status, errors=errors)

    # --- the API ---

    def add_consent(self, consent: IysConsent) -> AddResult:
        response = self._call("add", "POST", f"{self._brand_path}/consents", json=consent.as_json())
        data = response.json()
        return AddResult(
            transaction_id=str(data["transactionId"]),
            creation_date=_maybe_date(data.get("creationDate")),
        )

    def add_consents_async(self, consents: Sequence[IysConsent]) -> AsyncSubmission:
        if not consents:
            raise ValueError("nothing to send")
        if len(consents) > MAX_ASYNC_BATCH:
            raise ValueError(f"İYS accepts at most {MAX_ASYNC_BATCH} consents per request")
        response = self._call(
            "add_async",
            "POST",
            f"{self._brand_path}/consents/request",
            json=[c.as_json() for c in consents],
        )
        data = response.json()
        return AsyncSubmission(
            request_id=str(data["requestId"]),
            subrequest_ids=[str(s.get("subrequestId", "")) for s in data.get("subRequests", [])],
        )

    def async_results(self, request_id: str) -> list[AsyncItemResult]:
        response = self._call(
            "request_status", "GET", f"{self._brand_path}/consents/request/{request_id}"
        )
        results = []
        for item in response.json():
            error = item.get("error")
            results.append(
                AsyncItemResult(
                    index=int(item["index"]),
                    status=str(item["status"]),
                    subrequest_id=str(item.get("subrequestId") or ""),
                    transaction_id=str(item.get("transactionId") or ""),
                    creation_date=_maybe_date(item.get("creationDate")),
                    error=IysErrorDetail(str(error.get("code", "")), str(error.get("message", "")))
                    if error
                    else None,
                )
            )
        return sorted(results, key=lambda r: r.index)

    def wait_for_async_results(
        self, request_id: str, *, max_wait: float = 60.0, poll_interval: float = 1.0
    ) -> list[AsyncItemResult]:
        """Poll until every line is success or failure, or ``max_wait`` passes."""
        deadline = self.clock() + max_wait
        while True:
            results = self.async_results(request_id)
            if all(r.finished for r in results) or self.clock() >= deadline:
                return results
            self.sleep(poll_interval)

    def consent_status(
        self, *, recipient: str, type: str, recipient_type: str = "BIREYSEL"
    ) -> IysRecord | None:
        """İYS's current consent for the recipient, or None when it has none."""
        try:
            response = self._call(
                "status",
                "POST",
                f"{self._brand_path}/consents/status",
                json={"recipient": recipient, "recipientType": recipient_type, "type": type},
            )
        except IysNotFound:
            return None
        return IysRecord.from_json(response.json())

    def consent_changes(
        self, *, source: str = "IYS", after: str = "", limit: int = 999
    ) -> ChangePage:
        """Changes since ``after`` (empty: from the oldest İYS still keeps, 7 days)."""
        params: dict[str, Any] = {"source": source, "limit": limit}
        if after:
            params["after"] = after
        response = self._call(
            "changes", "GET", f"{self._brand_path}/consents/changes", params=params
        )
        data = response.json()
        return ChangePage(
            after=str(data.get("after") or after),
            records=[IysRecord.from_json(item) for item in data.get("list", [])],
        )

    def iter_consent_changes(
        self, *, source: str = "IYS", after: str = "", limit: int = 999
    ) -> Iterable[ChangePage]:
        """Every page until İYS has nothing newer; each page carries its cursor."""
        while True:
            page = self.consent_changes(source=source, after=after, limit=limit)
            yield page
            if not page.records or page.after == after:
                return
            after = page.after

    def change_file(self, report_date: date) -> list[IysRecord]:
        """The daily change file (CSV) for ``report_date``; İYS keeps 7 days."""
        response = self._call(
            "change_file", "GET", f"{self._brand_path}/changes/{report_date:%Y-%m-%d}/file"
        )
        reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
        return [IysRecord.from_json(row) for row in reader]


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("Retry-After", "")
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return 1.0


def _maybe_date(raw: Any) -> datetime | None:
    return parse_iys_datetime(str(raw)) if raw else None


def _errors_of(response: httpx.Response) -> list[IysErrorDetail]:
    try:
        data = response.json()
    except ValueError:
        return []
    items = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return []
    return [
        IysErrorDetail(
            code=str(item.get("code", "")),
            message=str(item.get("message", "")),
            location=tuple(str(x) for x in item.get("location") or ()),
        )
        for item in items
        if isinstance(item, dict)
    ]
