"""A fake İYS: a real HTTP server on 127.0.0.1 that behaves like the İYS brand API.

Started by the ``fake_iys`` fixture (tests/consent/conftest.py) on a random port.
It implements what Tekil uses (COMPLIANCE.md §1): OAuth2 tokens that expire, add
one, add many asynchronously (processed at once, reported as ``enqueue`` for the
first poll), async results by request id, status query, change pull with an
``after`` cursor, the daily change file; İYS's validation rules per (brand,
recipient, recipientType, type) with error codes; rate limits answered with 429
and ``Retry-After``; and injectable faults: an error status, a slow answer (the
client times out), or a write that is stored and then the connection is dropped
(the caller cannot know it succeeded — the crash case).

Error codes here are the fake's own descriptive names (``SAME_STATUS`` …): the
real İYS uses numbered codes that we could not confirm. Tekil treats codes as
opaque text, except the few listed in consent/iys/sync.py.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

TURKEY = ZoneInfo("Europe/Istanbul")
FMT = "%Y-%m-%d %H:%M:%S"
EPOCH_2015 = datetime(2015, 5, 1, tzinfo=TURKEY)
TYPES = {"MESAJ", "ARAMA", "EPOSTA"}
RECIPIENT_TYPES = {"BIREYSEL", "TACIR"}
STATUSES = {"ONAY", "RET"}
PHONE = re.compile(r"^\+90\d{10}$")
EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")


class Reject(Exception):
    def __init__(self, code: str, message: str, location: list[str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.location = code, message, location or []

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "location": self.location}


@dataclass
class Record:
    brand: str
    recipient: str
    recipient_type: str
    type: str
    status: str
    source: str
    consent_date: datetime | None
    creation_date: datetime
    transaction_id: str
    seq: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "recipientType": self.recipient_type,
            "type": self.type,
            "status": self.status,
            "source": self.source,
            "consentDate": self.consent_date.strftime(FMT) if self.consent_date else None,
            "creationDate": self.creation_date.strftime(FMT),
            "transactionId": self.transaction_id,
        }


@dataclass
class Fault:
    kind: str
    times: int = 1
    status: int | None = None
    delay: float = 0.0
    drop_after_processing: bool = False


@dataclass
class Account:
    password: str
    iys_code: str
    brands: set[str]


@dataclass
class FakeIysState:
    accounts: dict[str, Account]
    access_ttl: float = 3600.0
    refresh_ttl: float = 7200.0
    rate_limits: dict[str, tuple[int, float]] = field(default_factory=dict)
    enqueue_polls: int = 1
    file_days: int = 7  # how many past days' change files are offered
    hold_back: timedelta = timedelta(0)
    now: Callable[[], datetime] = field(default_factory=lambda: lambda: datetime.now(TURKEY))


class FakeIys:
    """The server plus the state tests inspect and steer."""

    def __init__(self, state: FakeIysState) -> None:
        self.config = state
        self.lock = threading.RLock()
        self.records: list[Record] = []  # every accepted record, in order (the change log)
        self._by_key: dict[tuple[str, str, str, str], list[Record]] = {}
        self.requests: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, tuple[str, float]] = {}  # token -> (username, until)
        self.refresh_tokens: dict[str, tuple[str, float]] = {}
        self.faults: list[Fault] = []
        self.calls: list[tuple[str, str, int]] = []  # (kind, method, status answered)
        self.grants: list[str] = []  # grant_type of every token call that succeeded
        self._windows: dict[str, deque[float]] = {}
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ---

    def start(self, port: int = 0) -> FakeIys:
        fake = self

        class Handler(_Handler):
            iys = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- what tests steer ---

    def inject(self, kind: str, **kwargs: Any) -> None:
        with self.lock:
            self.faults.append(Fault(kind=kind, **kwargs))

    def expire_tokens(self, *, refresh_too: bool = False) -> None:
        with self.lock:
            self.access_tokens.clear()
            if refresh_too:
                self.refresh_tokens.clear()

    def citizen_change(
        self,
        brand: str,
        recipient: str,
        type: str,
        status: str = "RET",
        *,
        source: str = "IYS_KISAMESAJ",
        recipient_type: str = "BIREYSEL",
        when: datetime | None = None,
    ) -> Record:
        """A change the citizen made in İYS itself (web, app, SMS to 3338)."""
        at = when or self.config.now()
        return self._store(brand, recipient, recipient_type, type, status, source, at, at)

    def history(
        self, brand: str, recipient: str, type: str, recipient_type: str = "BIREYSEL"
    ) -> list[Record]:
        with self.lock:
            return list(self._by_key.get((brand, recipient, recipient_type, type), []))

    def current(
        self, brand: str, recipient: str, type: str, recipient_type: str = "BIREYSEL"
    ) -> Record | None:
        history = self.history(brand, recipient, type, recipient_type)
        return history[-1] if history else None

    def count(self, kind: str, method: str | None = None) -> int:
        with self.lock:
            return sum(1 for k, m, _ in self.calls if k == kind and (method is None or m == method))

    # --- internals used by the handler ---

    def _store(
        self,
        brand: str,
        recipient: str,
        recipient_type: str,
        type: str,
        status: str,
        source: str,
        consent_date: datetime | None,
        creation: datetime,
    ) -> Record:
        with self.lock:
            record = Record(
                brand=brand,
                recipient=recipient,
                recipient_type=recipient_type,
                type=type,
                status=status,
                source=source,
                consent_date=consent_date,
                creation_date=creation.replace(microsecond=0),
                transaction_id=secrets.token_hex(32),
                seq=len(self.records) + 1,
            )
            self.records.append(record)
            self._by_key.setdefault((brand, recipient, recipient_type, type), []).append(record)
            return record

    def _take_fault(self, kind: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.kind == kind and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _rate_limited(self, kind: str) -> float:
        """0 when allowed; otherwise the seconds until the next call is."""
        if kind not in self.config.rate_limits:
            return 0.0
        count, window = self.config.rate_limits[kind]
        with self.lock:
            now = time.monotonic()
            calls = self._windows.setdefault(kind, deque())
            while calls and now - calls[0] >= window:
                calls.popleft()
            if len(calls) >= count:
                return window - (now - calls[0]) if calls else window
            calls.append(now)
            return 0.0

    def validate_and_store(self, brand: str, body: Any) -> Record:
        """İYS's rules for one consent sent by the brand; stores it or raises Reject."""
        if not isinstance(body, dict):
            raise Reject("INVALID_BODY", "Gövde bir nesne olmalıdır.")
        recipient = str(body.get("recipient") or "")
        type_ = str(body.get("type") or "")
        recipient_type = str(body.get("recipientType") or "BIREYSEL")
        status = str(body.get("status") or "")
        source = str(body.get("source") or "")
        raw_date = body.get("consentDate")
        if type_ not in TYPES:
            raise Reject("INVALID_TYPE", "İzin tipi geçersiz.", ["type"])
        if recipient_type not in RECIPIENT_TYPES:
            raise Reject("INVALID_RECIPIENT_TYPE", "Alıcı tipi geçersiz.", ["recipientType"])
        if status not in STATUSES:
            raise Reject("INVALID_STATUS", "İzin durumu ONAY veya RET olmalıdır.", ["status"])
        if type_ in ("MESAJ", "ARAMA"):
            if not PHONE.match(recipient) or len(recipient) > 15:
                raise Reject(
                    "INVALID_RECIPIENT",
                    "Telefon numarası +90 ile başlayan E.164 biçiminde olmalıdır.",
                    ["recipient"],
                )
        elif not (6 <= len(recipient) <= 265) or not EMAIL.match(recipient):
            raise Reject("INVALID_RECIPIENT", "E-posta adresi geçersiz.", ["recipient"])
        with self.lock:
            history = self.history(brand, recipient, type_, recipient_type)
            current = history[-1] if history else None
            first = current is None
            needs_fields = recipient_type == "BIREYSEL" or not first
            if needs_fields and (not source or raw_date in (None, "")):
                raise Reject(
                    "FIELDS_REQUIRED",
                    "Kaynak ve izin tarihi zorunludur.",
                    ["source", "consentDate"],
                )
            if source and not source.startswith("HS_"):
                raise Reject(
                    "INVALID_SOURCE",
                    "Hizmet sağlayıcı yalnız HS_ kaynakları gönderebilir.",
                    ["source"],
                )
            consent_date: datetime | None = None
            now = self.config.now()
            if raw_date not in (None, ""):
                try:
                    consent_date = datetime.strptime(str(raw_date), FMT).replace(tzinfo=TURKEY)
                except ValueError as error:
                    raise Reject(
                        "INVALID_DATE",
                        "İzin tarihi YYYY-MM-DD HH:mm:ss biçiminde olmalıdır.",
                        ["consentDate"],
                    ) from error
                if consent_date > now:
                    raise Reject(
                        "DATE_IN_FUTURE", "İzin tarihi ileri bir tarih olamaz.", ["consentDate"]
                    )
                if consent_date < EPOCH_2015:
                    raise Reject(
                        "DATE_BEFORE_2015",
                        "İzin tarihi 01.05.2015'ten önce olamaz.",
                        ["consentDate"],
                    )
                if source == "HS_2015":
                    if consent_date != EPOCH_2015:
                        raise Reject(
                            "HS_2015_DATE",
                            "HS_2015 kaynağında izin tarihi 2015-05-01 00:00:00 olmalıdır.",
                            ["consentDate"],
                        )
                elif consent_date < business_days_before(now, 3):
                    raise Reject(
                        "BACKDATED",
                        "İzin tarihi en fazla 3 iş günü geçmişte olabilir.",
                        ["consentDate"],
                    )
                if (
                    current is not None
                    and current.consent_date is not None
                    and consent_date <= current.consent_date
                ):
                    raise Reject(
                        "DATE_NOT_LATER",
                        "İzin tarihi kayıtlı izinden sonra olmalıdır.",
                        ["consentDate"],
                    )
            if source == "HS_KARAR" and status != "RET":
                raise Reject(
                    "HS_KARAR_STATUS", "HS_KARAR kaynağı yalnız RET ile kullanılabilir.", ["status"]
                )
            if first and status == "RET":
                code = "HS_KARAR_FIRST" if source == "HS_KARAR" else "FIRST_RECORD_RET"
                raise Reject(code, "İlk izin kaydı RET olamaz.", ["status"])
            if current is not None and current.status == status:
                raise Reject(
                    "SAME_STATUS", "Alıcı için aynı izin durumu zaten kayıtlı.", ["status"]
                )
            today = now.date()
            if (
                sum(
                    1
                    for r in history
                    if r.creation_date.date() == today and r.source.startswith("HS_")
                )
                >= 2
            ):
                raise Reject(
                    "DAILY_LIMIT",
                    "Bir alıcı için günde en fazla 2 işlem yapılabilir.",
                    ["recipient"],
                )
            return self._store(
                brand, recipient, recipient_type, type_, status, source, consent_date, now
            )

    def changes(self, brand: str, source: str, after: str, limit: int) -> dict[str, Any]:
        start = _decode_cursor(after)
        now = self.config.now()
        oldest = now - timedelta(days=7)
        newest = now - self.config.hold_back
        with self.lock:
            chosen = [
                r
                for r in self.records
                if r.brand == brand
                and r.seq > start
                and oldest <= r.creation_date <= newest
                and (
                    r.source.startswith("HS_") if source == "HS" else not r.source.startswith("HS_")
                )
            ][:limit]
        last = chosen[-1].seq if chosen else start
        return {"after": _encode_cursor(last), "list": [r.as_json() for r in chosen]}

    def change_file(self, brand: str, day: date) -> str:
        out = io.StringIO()
        columns = [
            "creationDate",
            "transactionId",
            "recipient",
            "recipientType",
            "type",
            "status",
            "consentDate",
            "source",
        ]
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        with self.lock:
            for r in self.records:
                if r.brand == brand and r.creation_date.date() == day:
                    writer.writerow({k: v or "" for k, v in r.as_json().items() if k in columns})
        return out.getvalue()


def business_days_before(moment: datetime, days: int) -> datetime:
    """``moment`` moved back ``days`` working days (Monday–Friday; holidays ignored)."""
    result = moment
    while days > 0:
        result -= timedelta(days=1)
        if result.weekday() < 5:
            days -= 1
    return result


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        return 0


_BRAND = r"/sps/(?P<iys>[^/]+)/brands/(?P<brand>[^/]+)"
ROUTES: list[tuple[str, str, re.Pattern[str]]] = [
    ("token", "POST", re.compile(r"^/oauth2/token$")),
    ("add", "POST", re.compile(rf"^{_BRAND}/consents$")),
    ("add_async", "POST", re.compile(rf"^{_BRAND}/consents/request$")),
    ("request_status", "GET", re.compile(rf"^{_BRAND}/consents/request/(?P<rid>[^/]+)$")),
    ("status", "POST", re.compile(rf"^{_BRAND}/consents/status$")),
    ("changes", "GET", re.compile(rf"^{_BRAND}/consents/changes$")),
    (
        "change_file",
        "GET",
        re.compile(rf"^{_BRAND}/changes/(?P<day>\d{{4}}-\d{{2}}-\d{{2}})/file$"),
    ),
]


def _route(method: str, path: str) -> tuple[str, re.Match[str]] | None:
    for kind, route_method, pattern in ROUTES:
        match = pattern.match(path)
        if match and route_method == method:
            return kind, match
    return None


class _Handler(BaseHTTPRequestHandler):
    iys: FakeIys
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # --- plumbing ---

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        found = _route(method, url.path)
        if found is None:
            self._json(
                404,
                {"errors": [{"code": "NOT_FOUND", "message": "Yol bulunamadı."}]},
                "unknown",
                method,
            )
            return
        kind, match = found
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fault = self.iys._take_fault(kind)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status:
            self._json(
                fault.status,
                {"errors": [{"code": "SERVER_ERROR", "message": "Geçici hata."}]},
                kind,
                method,
            )
            return
        wait = self.iys._rate_limited(kind)
        if wait:
            self._json(
                429,
                {"errors": [{"code": "RATE_LIMIT", "message": "Çok fazla istek."}]},
                kind,
                method,
                headers={"Retry-After": str(max(1, int(wait + 0.999)))},
            )
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._json(
                400,
                {"errors": [{"code": "INVALID_JSON", "message": "Geçersiz JSON."}]},
                kind,
                method,
            )
            return
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        params = match.groupdict()
        try:
            if kind != "token":
                self._authorise(params)
            status, payload, content_type = getattr(self, f"_{kind}")(params, body, query)
        except Reject as rejection:
            status = {
                "UNAUTHORIZED": 401,
                "FORBIDDEN": 403,
                "CONSENT_NOT_FOUND": 404,
                "REQUEST_NOT_FOUND": 404,
                "REPORT_NOT_FOUND": 404,
                "INVALID_GRANT": 401,
            }.get(rejection.code, 422)
            self._json(status, {"errors": [rejection.as_json()]}, kind, method)
            return
        if fault is not None and fault.drop_after_processing:
            # Stored, but the answer never arrives: close without a response.
            with self.iys.lock:
                self.iys.calls.append((kind, method, 0))
            self.close_connection = True
            return
        if content_type == "application/json":
            self._json(status, payload, kind, method)
        else:
            self._send(status, str(payload).encode(), content_type, kind, method)

    def _authorise(self, params: dict[str, str]) -> None:
        header = self.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        with self.iys.lock:
            entry = self.iys.access_tokens.get(token)
        if entry is None or entry[1] < time.monotonic():
            raise Reject("UNAUTHORIZED", "Oturum geçersiz veya süresi dolmuş.")
        account = self.iys.config.accounts[entry[0]]
        if params.get("iys") != account.iys_code or params.get("brand") not in account.brands:
            raise Reject("FORBIDDEN", "Bu marka için yetkiniz yok.")

    def _json(
        self,
        status: int,
        payload: Any,
        kind: str,
        method: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._send(
            status,
            json.dumps(payload, ensure_ascii=False).encode(),
            "application/json",
            kind,
            method,
            headers,
        )

    def _send(
        self,
        status: int,
        data: bytes,
        content_type: str,
        kind: str,
        method: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        with self.iys.lock:
            self.iys.calls.append((kind, method, status))
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    # --- endpoints: each returns (status, payload, content type) ---

    def _token(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> tuple[int, Any, str]:
        body = body or {}
        iys, now = self.iys, time.monotonic()
        with iys.lock:
            if body.get("grant_type") == "password":
                account = iys.config.accounts.get(str(body.get("username")))
                if account is None or account.password != body.get("password"):
                    raise Reject("INVALID_GRANT", "Kullanıcı adı veya parola hatalı.")
                username = str(body["username"])
            elif body.get("grant_type") == "refresh_token":
                entry = iys.refresh_tokens.pop(str(body.get("refresh_token")), None)
                if entry is None or entry[1] < now:
                    raise Reject("INVALID_GRANT", "Yenileme anahtarı geçersiz.")
                username = entry[0]
            else:
                raise Reject("INVALID_GRANT", "grant_type password veya refresh_token olmalıdır.")
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            iys.grants.append(str(body["grant_type"]))
            iys.access_tokens[access] = (username, now + iys.config.access_ttl)
            iys.refresh_tokens[refresh] = (username, now + iys.config.refresh_ttl)
        return (
            200,
            {
                "access_token": access,
                "refresh_token": refresh,
                "token_type": "bearer",
                "expires_in": iys.config.access_ttl,
                "refresh_expires_in": iys.config.refresh_ttl,
            },
            "application/json",
        )

    def _add(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> tuple[int, Any, str]:
        record = self.iys.validate_and_store(params["brand"], body)
        return (
            200,
            {
                "transactionId": record.transaction_id,
                "creationDate": record.creation_date.strftime(FMT),
            },
            "application/json",
        )

    def _add_async(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> tuple[int, Any, str]:
        if not isinstance(body, list) or not body or len(body) > 10_000:
            raise Reject("INVALID_BODY", "1 ile 10.000 arasında izin gönderilmelidir.")
        request_id = str(uuid.uuid4())
        results = []
        # Processed at once (so a lost answer still leaves records in İYS, as it would).
        for index, item in enumerate(body):
            sub = str(uuid.uuid4())
            try:
                record = self.iys.validate_and_store(params["brand"], item)
            except Reject as rejection:
                results.append(
                    {
                        "index": index,
                        "status": "failure",
                        "subrequestId": sub,
                        "error": {"code": rejection.code, "message": rejection.message},
                    }
                )
            else:
                results.append(
                    {
                        "index": index,
                        "status": "success",
                        "subrequestId": sub,
                        "transactionId": record.transaction_id,
                        "creationDate": record.creation_date.strftime(FMT),
                    }
                )
        with self.iys.lock:
            self.iys.requests[request_id] = {
                "brand": params["brand"],
                "results": results,
                "polls": 0,
            }
        return (
            200,
            {
                "requestId": request_id,
                "subRequests": [
                    {"subrequestId": r["subrequestId"], "index": r["index"]} for r in results
                ],
            },
            "application/json",
        )

    def _request_status(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> tuple[int, Any, str]:
        with self.iys.lock:
            request = self.iys.requests.get(params["rid"])
            if request is None or request["brand"] != params["brand"]:
                raise Reject("REQUEST_NOT_FOUND", "İstek bulunamadı.")
            request["polls"] += 1
            if request["polls"] <= self.iys.config.enqueue_polls:
                lines = [
                    {"index": r["index"], "status": "enqueue", "subrequestId": r["subrequestId"]}
                    for r in request["results"]
                ]
                return 200, lines, "application/json"
            return 200, request["results"], "application/json"

    def _status(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> tuple[int, Any, str]:
        body = body or {}
        record = self.iys.current(
            params["brand"],
            str(body.get("recipient")),
            str(body.get("type")),
            str(body.get("recipientType") or "BIREYSEL"),
        )
        if record is None:
            raise Reject("CONSENT_NOT_FOUND", "Alıcı için izin kaydı bulunamadı.")
        payload = record.as_json()
        payload.pop("transactionId")
        payload.update({"retailerCode": None, "retailerAccess": []})
        return 200, payload, "application/json"

    def _changes(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> tuple[int, Any, str]:
        source = query.get("source", "IYS")
        if source not in ("HS", "IYS"):
            raise Reject("INVALID_SOURCE", "source HS veya IYS olmalıdır.")
        limit = max(1, min(int(query.get("limit") or 999), 999))
        return (
            200,
            self.iys.changes(params["brand"], source, query.get("after", ""), limit),
            "application/json",
        )

    def _change_file(
        self, params: dict[str, str], body: Any, query: dict[str, str]
    ) -> tuple[int, Any, str]:
        day = date.fromisoformat(params["day"])
        today = self.iys.config.now().date()
        if not (today - timedelta(days=self.iys.config.file_days) <= day <= today):
            raise Reject("REPORT_NOT_FOUND", "Değişiklik dosyası yalnız son 7 gün için alınabilir.")
        return 200, self.iys.change_file(params["brand"], day), "text/csv"


IYS_CODE = "700001"
BRAND_CODE = "700101"
OTHER_BRAND_CODE = "700102"
USERNAME = "tekil-entegrasyon"
PASSWORD = "iys-gizli-parola"


def start_fake_iys(port: int = 0, **config: Any) -> FakeIys:
    """A running fake with one account for IYS_CODE and its two brands."""
    accounts = {USERNAME: Account(PASSWORD, IYS_CODE, {BRAND_CODE, OTHER_BRAND_CODE})}
    return FakeIys(FakeIysState(accounts=accounts, **config)).start(port)


if __name__ == "__main__":
    # For trying the sync page by hand: run this, start Tekil with
    # IYS_BASE_URL=http://127.0.0.1:8765 and enter the credentials printed below.
    import sys

    server = start_fake_iys(int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
    print(f"fake İYS on {server.url}: İYS code {IYS_CODE}, brands {BRAND_CODE} and")
    print(f"  {OTHER_BRAND_CODE}, user {USERNAME}, password {PASSWORD}. Ctrl-C stops it.")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
