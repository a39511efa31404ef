"""Entry-time duplicate detection: score one incoming record against candidates.

Candidates come from indexed blocking keys (identifiers, phone, e-mail, name key);
each pair is scored with Fellegi–Sunter style log-weights: agreement on a field adds
its weight, disagreement subtracts. Shared phones and addresses are common in
families and firms, so a phone match with a different first name is evidence of a
relative, not of the same person. The batch job (a later step) uses the same
fields with fitted weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rapidfuzz import fuzz

# Above this the record is treated as the same customer (API upserts link to it).
SAME_CUSTOMER_SCORE = 9.0
# Above this it is shown to staff as a possible duplicate.
POSSIBLE_DUPLICATE_SCORE = 3.0


@dataclass(frozen=True)
class Incoming:
    kind: str = "person"
    first_key: str = ""
    last_key: str = ""
    company_key: str = ""
    tckn: str = ""
    tax_id: str = ""
    birth_date: date | None = None
    phones: frozenset[str] = frozenset()
    email_keys: frozenset[str] = frozenset()


@dataclass
class Match:
    customer_id: int
    score: float = 0.0
    evidence: list[str | Promise] = field(default_factory=list)

    def add(self, weight: float, reason: str | Promise) -> None:
        self.score += weight
        self.evidence.append(reason)

    @property
    def is_same_customer(self) -> bool:
        return self.score >= SAME_CUSTOMER_SCORE


def score(incoming: Incoming, candidate: Incoming, customer_id: int) -> Match:
    match = Match(customer_id=customer_id)
    for mine, theirs, weight, reason in (
        (incoming.tckn, candidate.tckn, 12.0, _("same T.C. identity number")),
        (incoming.tax_id, candidate.tax_id, 12.0, _("same tax number")),
    ):
        if mine and theirs:
            if mine == theirs:
                match.add(weight, reason)
            else:
                match.add(-12.0, _("different identity numbers"))
    if incoming.phones & candidate.phones:
        match.add(5.0, _("same phone"))
    if incoming.email_keys & candidate.email_keys:
        match.add(5.0, _("same e-mail"))
    if incoming.kind == "company" or candidate.kind == "company":
        similarity = fuzz.token_sort_ratio(incoming.company_key, candidate.company_key)
        if incoming.company_key and similarity >= 95:
            match.add(4.0, _("same trade name"))
        elif incoming.company_key and similarity >= 85:
            match.add(2.0, _("similar trade name"))
        return match
    if incoming.last_key and candidate.last_key:
        last = fuzz.ratio(incoming.last_key, candidate.last_key)
        if last >= 95:
            match.add(2.0, _("same last name"))
        elif last >= 80:
            match.add(1.0, _("similar last name"))
        else:
            match.add(-3.0, _("different last name"))
    if incoming.first_key and candidate.first_key:
        first = max(
            fuzz.ratio(incoming.first_key, candidate.first_key),
            # "Ayşe Gül" vs "Ayşe": a double first name written short.
            100.0 if set(incoming.first_key.split()) & set(candidate.first_key.split()) else 0,
        )
        if first >= 90:
            match.add(2.5, _("same first name"))
        elif first >= 75:
            match.add(1.0, _("similar first name"))
        else:
            # Same phone or address but another first name: a relative, not a duplicate.
            match.add(-5.0, _("different first name"))
    if incoming.birth_date and candidate.birth_date:
        if incoming.birth_date == candidate.birth_date:
            match.add(4.0, _("same birth date"))
        else:
            match.add(-6.0, _("different birth date"))
    return match
