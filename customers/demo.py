"""Demo customers for seed_demo: realistic Turkish people and companies with two
years of purchases, contacts and complaints across the demo branches, and about 10%
duplicate records with the typing variants real data has.

Bulk-loaded (bulk_create in batches), deterministic for a seed.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from faker import Faker

from crm.demo import DemoOptions, DemoReport, register_seeder
from crm.models import Branch, Tenant, User
from crm.text import matching_key
from customers.models import (
    Complaint,
    ContactPerson,
    Customer,
    CustomerNumberCounter,
    Email,
    Interaction,
    Phone,
    Product,
    ProductCategory,
    Purchase,
    PurchaseLine,
    Touchpoint,
)

BATCH = 2000
CATALOGUE = {
    "Kadın Giyim": ["Elbise", "Bluz", "Etek", "Trençkot", "Kazak"],
    "Erkek Giyim": ["Gömlek", "Pantolon", "Ceket", "Mont", "Tişört"],
    "Ayakkabı": ["Spor ayakkabı", "Bot", "Sandalet", "Loafer", "Terlik"],
    "Çanta ve Aksesuar": ["Sırt çantası", "Cüzdan", "Kemer", "Şal", "Şapka"],
    "Çocuk": ["Çocuk montu", "Okul çantası", "Pijama takımı", "Eşofman", "Bebek body"],
    "Ev Tekstili": ["Nevresim takımı", "Havlu seti", "Perde", "Battaniye", "Yastık"],
    "Kozmetik": ["Parfüm", "Nemlendirici", "Ruj", "Şampuan", "Güneş kremi"],
    "Spor": ["Yoga matı", "Koşu taytı", "Matara", "Spor çanta", "Eşofman altı"],
}
STREETS = [
    "Atatürk Cad.",
    "Cumhuriyet Cad.",
    "İstiklal Cad.",
    "Gazi Cad.",
    "Bağdat Cad.",
    "Menderes Sok.",
    "Lale Sok.",
    "Çınar Sok.",
    "Okul Sok.",
    "Zafer Cad.",
]
SECTORS = ["Perakende", "Tekstil", "İnşaat", "Gıda", "Otomotiv", "Turizm", "Lojistik"]
COMPLAINT_SUBJECTS = [
    "Ürün kusurlu çıktı",
    "İade gecikti",
    "Kasada yanlış fiyat",
    "Kargo hasarlı geldi",
    "Personel ilgisizdi",
    "Beden değişimi yapılmadı",
]
CONTACT_SUBJECTS = [
    "Ürün bilgisi istedi",
    "Stok sordu",
    "Kampanya hakkında bilgi",
    "Sipariş durumu",
    "Adres güncelleme",
    "Taksit seçenekleri",
]
_FOLD = str.maketrans("çğıöşüÇĞİÖŞÜ", "cgiosuCGIOSU")


def _tckn(rng: random.Random) -> str:
    digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
    odd, even = sum(digits[0:9:2]), sum(digits[1:8:2])
    digits.append((odd * 7 - even) % 10)
    digits.append(sum(digits) % 10)
    return "".join(map(str, digits))


def _mobile(rng: random.Random) -> str:
    return f"+905{rng.choice([0, 3, 4, 5])}{rng.randint(0, 9)}{rng.randint(0, 9_999_999):07d}"


def _typo(rng: random.Random, text: str) -> str:
    """One realistic slip: ASCII folding, a swapped pair, a dropped letter, or capitals."""
    choice = rng.random()
    if choice < 0.35:
        return text.translate(_FOLD)
    if choice < 0.55:
        return text.upper()
    if len(text) > 3 and choice < 0.8:
        i = rng.randint(1, len(text) - 2)
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if len(text) > 3:
        i = rng.randint(1, len(text) - 1)
        return text[:i] + text[i + 1 :]
    return text


def _phone_variant(rng: random.Random, e164: str) -> str:
    national = "0" + e164[3:]
    return rng.choice(
        [
            national,
            e164[3:],
            f"0{e164[3:6]} {e164[6:9]} {e164[9:11]} {e164[11:]}",
            e164,
            "0090" + e164[3:],
        ]
    )


@register_seeder
def seed_customers(tenant: Tenant, options: DemoOptions, report: DemoReport) -> None:
    existing = Customer.objects.filter(tenant=tenant).count()
    if existing and existing == _expected_total(options.customers):
        report.lines.append(f"{existing} customers (already there)")
        return
    if existing:
        _wipe(tenant)
    stats = _generate(tenant, options)
    report.lines.append(
        f"{stats['customers']} customers ({stats['duplicates']} duplicate records), "
        f"{stats['purchases']} purchases, {stats['interactions']} contacts, "
        f"{stats['complaints']} complaints"
    )


def _expected_total(customers: int) -> int:
    return customers + customers // 10


def _wipe(tenant: Tenant) -> None:
    for model in (PurchaseLine, Purchase, Complaint, Interaction, Phone, Email, ContactPerson):
        model.objects.filter(tenant=tenant)._raw_delete(model.objects.db)
    Customer.objects.filter(tenant=tenant).update(merged_into=None)
    Customer.objects.filter(tenant=tenant)._raw_delete(Customer.objects.db)
    CustomerNumberCounter.objects.filter(tenant=tenant).delete()


@transaction.atomic
def _generate(tenant: Tenant, options: DemoOptions) -> dict[str, int]:
    rng = options.rng
    fake = Faker("tr_TR")
    fake.seed_instance(options.seed)
    branches = list(Branch.objects.filter(tenant=tenant).order_by("code"))
    staff = list(User.objects.filter(memberships__tenant=tenant).order_by("pk"))
    products = _catalogue(tenant)
    now = timezone.now().replace(microsecond=0)
    start = now - timedelta(days=730)
    total = _expected_total(options.customers)
    counter, _created = CustomerNumberCounter.objects.get_or_create(tenant=tenant)
    first_number = counter.next_value
    counter.next_value += total
    counter.save()

    people: list[dict[str, Any]] = []
    for index in range(options.customers):
        is_company = rng.random() < 0.15
        branch = rng.choice(branches)
        record: dict[str, Any] = {
            "kind": Customer.Kind.COMPANY if is_company else Customer.Kind.PERSON,
            "home_branch": branch,
            "phones": [_mobile(rng)] if rng.random() < 0.92 else [],
            "emails": [],
            "created_at": start + timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 1439)),
        }
        if is_company:
            record["trade_name"] = f"{fake.last_name()} {rng.choice(SECTORS)} " + rng.choice(
                ["Ltd. Şti.", "A.Ş.", "Tic. Ltd. Şti."]
            )
            record["tax_id"] = _vkn(rng)
            record["sector"] = rng.choice(SECTORS)
        else:
            female = rng.random() < 0.55
            first = fake.first_name_female() if female else fake.first_name_male()
            if rng.random() < 0.15:
                first += " " + (fake.first_name_female() if female else fake.first_name_male())
            record.update(
                first_name=first, last_name=fake.last_name(), gender="f" if female else "m"
            )
            if rng.random() < 0.7:
                record["birth_date"] = date(
                    rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28)
                )
            if rng.random() < 0.2:
                record["tckn"] = _tckn(rng)
        if rng.random() < 0.6:
            local = matching_key(record.get("first_name") or record["trade_name"]).split()[0]
            record["emails"] = [f"{local}.{index}@{rng.choice(['gmail.com', 'hotmail.com'])}"]
        people.append(record)

    duplicates = []
    for original in rng.sample(people, len(people) // 10):
        copy = dict(original)
        if copy["kind"] == Customer.Kind.PERSON:
            copy["first_name"] = _typo(rng, copy["first_name"])
            if rng.random() < 0.5:
                copy["last_name"] = _typo(rng, copy["last_name"])
            copy["tckn"] = ""  # the second channel rarely asks for it
        else:
            copy["trade_name"] = _typo(rng, copy["trade_name"])
        copy["phones"] = [_phone_variant(rng, p) for p in copy["phones"]]
        copy["emails"] = copy["emails"] if rng.random() < 0.5 else []
        copy["home_branch"] = rng.choice(branches)
        duplicates.append(copy)
    records = people + duplicates

    customers = []
    for offset, record in enumerate(records):
        first = record.get("first_name", "")
        last = record.get("last_name", "")
        trade = record.get("trade_name", "")
        customers.append(
            Customer(
                tenant=tenant,
                kind=record["kind"],
                customer_number=str(100000 + first_number + offset - 1),
                first_name=first.title() if first.isupper() else first,
                last_name=last,
                trade_name=trade,
                tckn=record.get("tckn", ""),
                tax_id=record.get("tax_id", ""),
                sector=record.get("sector", ""),
                birth_date=record.get("birth_date"),
                gender=record.get("gender", ""),
                home_branch=record["home_branch"],
                name_key=matching_key(trade if record["kind"] == "company" else f"{first} {last}"),
                source=rng.choice(
                    [
                        Touchpoint.BRANCH_VISIT,
                        Touchpoint.ECOMMERCE,
                        Touchpoint.CALL_IN,
                        Touchpoint.DEALER,
                    ]
                ),
                created_at=record["created_at"],
            )
        )
    Customer.objects.bulk_create(customers, batch_size=BATCH)
    # bulk_create gives ids back on PostgreSQL and SQLite alike (RETURNING).
    phones, emails, contacts = [], [], []
    from customers.normalize import email_key, normalize_phone

    for customer, record in zip(customers, records, strict=True):
        for raw in record["phones"]:
            phone = normalize_phone(raw)
            phones.append(
                Phone(
                    tenant=tenant,
                    customer=customer,
                    e164=phone.e164,
                    is_mobile=phone.is_mobile,
                    is_primary=True,
                )
            )
        for address in record["emails"]:
            emails.append(
                Email(
                    tenant=tenant,
                    customer=customer,
                    address=address,
                    match_key=email_key(address),
                    is_primary=True,
                )
            )
        if customer.kind == Customer.Kind.COMPANY:
            for role in rng.sample(list(ContactPerson.Role)[:6], rng.randint(1, 3)):
                contacts.append(
                    ContactPerson(
                        tenant=tenant,
                        company=customer,
                        first_name=fake.first_name(),
                        last_name=fake.last_name(),
                        role=role,
                    )
                )
    Phone.objects.bulk_create(phones, batch_size=BATCH)
    Email.objects.bulk_create(emails, batch_size=BATCH)
    ContactPerson.objects.bulk_create(contacts, batch_size=BATCH)

    purchases: list[Purchase] = []
    lines: list[PurchaseLine] = []
    interactions: list[Interaction] = []
    complaints: list[Complaint] = []
    for customer in customers:
        activity = rng.expovariate(1 / 4)
        for _ in range(min(40, int(activity))):
            at = customer.created_at + timedelta(
                seconds=rng.randint(0, max(1, int((now - customer.created_at).total_seconds())))
            )
            branch = customer.home_branch if rng.random() < 0.8 else rng.choice(branches)
            chosen = rng.sample(products, rng.randint(1, 3))
            discount = Decimal(rng.choice([0, 0, 0, 5, 10, 20])) / 100
            purchase = Purchase(
                tenant=tenant,
                customer=customer,
                branch=branch,
                touchpoint=rng.choice([Touchpoint.BRANCH_VISIT] * 4 + [Touchpoint.ECOMMERCE]),
                purchased_at=_shop_hours(rng, at),
                total_amount=Decimal(0),
                discount_amount=Decimal(0),
            )
            for product in chosen:
                quantity = rng.choice([1, 1, 1, 2])
                gross = product.list_price * quantity
                cut = (gross * discount).quantize(Decimal("0.01"))
                lines.append(
                    PurchaseLine(
                        tenant=tenant,
                        purchase=purchase,
                        product=product,
                        quantity=quantity,
                        unit_price=product.list_price,
                        discount_amount=cut,
                        line_total=gross - cut,
                    )
                )
                purchase.total_amount += gross - cut
                purchase.discount_amount += cut
            purchases.append(purchase)
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            interactions.append(
                Interaction(
                    tenant=tenant,
                    customer=customer,
                    touchpoint=rng.choice(
                        [
                            Touchpoint.CALL_IN,
                            Touchpoint.BRANCH_VISIT,
                            Touchpoint.EMAIL,
                            Touchpoint.FRONT_DESK,
                        ]
                    ),
                    subject=rng.choice(CONTACT_SUBJECTS),
                    staff=rng.choice(staff),
                    branch=customer.home_branch,
                    occurred_at=now
                    - timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 600)),
                )
            )
        if rng.random() < 0.03:
            opened = now - timedelta(days=rng.randint(0, 200))
            status = rng.choice(list(Complaint.Status))
            complaints.append(
                Complaint(
                    tenant=tenant,
                    customer=customer,
                    subject=rng.choice(COMPLAINT_SUBJECTS),
                    status=status,
                    branch=customer.home_branch,
                    owner=rng.choice(staff),
                    opened_at=opened,
                    due_on=(opened + timedelta(days=3)).date(),
                    resolution="Müşteriyle görüşüldü, çözüldü."
                    if status in (Complaint.Status.RESOLVED, Complaint.Status.CLOSED)
                    else "",
                    resolved_at=opened + timedelta(days=2)
                    if status in (Complaint.Status.RESOLVED, Complaint.Status.CLOSED)
                    else None,
                )
            )
    Purchase.objects.bulk_create(purchases, batch_size=BATCH)
    for line in lines:
        line.purchase_id = line.purchase.pk
    PurchaseLine.objects.bulk_create(lines, batch_size=BATCH)
    Interaction.objects.bulk_create(interactions, batch_size=BATCH)
    Complaint.objects.bulk_create(complaints, batch_size=BATCH)
    return {
        "customers": len(customers),
        "duplicates": len(duplicates),
        "purchases": len(purchases),
        "interactions": len(interactions),
        "complaints": len(complaints),
    }


def _shop_hours(rng: random.Random, at: datetime) -> datetime:
    return at.replace(
        hour=rng.choice([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]),
        minute=rng.randint(0, 59),
        second=0,
    )


def _vkn(rng: random.Random) -> str:
    from stdnum.tr import vkn

    base = f"{rng.randint(1, 9)}{rng.randint(0, 99_999_999):08d}"
    return base + vkn.calc_check_digit(base)


def _catalogue(tenant: Tenant) -> list[Product]:
    rng = random.Random(7)  # noqa: S311 (demo prices)
    products = []
    for category_name, names in CATALOGUE.items():
        category, _ = ProductCategory.objects.get_or_create(tenant=tenant, name=category_name)
        for position, name in enumerate(names):
            sku = f"{matching_key(category_name)[:3].upper()}-{position + 1:03d}"
            product, _ = Product.objects.get_or_create(
                tenant=tenant,
                sku=sku,
                defaults={
                    "name": name,
                    "category": category,
                    "list_price": Decimal(rng.randrange(99, 2500, 10)) - Decimal("0.01"),
                },
            )
            products.append(product)
    return products
