"""One clean orders record, for tests that build feeds record by record."""

from __future__ import annotations


def order(i: int, **changes) -> dict:
    """A record of ``datasets/orders`` that breaks no rule (before ``changes``)."""
    record = {
        "id": i,
        "name": f"name {i}",
        "email": f"person{i}@example.com",
        "region_code": "01",
        "status": "ACTIVE",
        "quantity": 2.0,
        "price": 5.0,
        "amount": 10.0,
        "created_date": "2026-11-01 10:00:00",
    }
    return {**record, **changes}
