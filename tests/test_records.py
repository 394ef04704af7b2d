"""``fast_constructor``: what it builds is an ordinary frozen record, indistinguishable from one
built by the class itself."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from form4.parsers.records import (
    FieldFootnote,
    Holding,
    Issuer,
    OwnershipDocument,
    ReportingOwner,
    Transaction,
    fast_constructor,
)


def distinct_values(cls: type[Any]) -> tuple[object, ...]:
    """A different value for every field, of the field's declared kind."""
    out: list[object] = []
    for i, f in enumerate(dataclasses.fields(cls)):
        kind = str(f.type)
        if kind.startswith("bool"):
            out.append(i % 2 == 0)
        elif kind.startswith("int"):
            out.append(i)
        elif kind.startswith("Decimal"):
            out.append(Decimal(f"{i}.5"))
        elif kind.startswith("date"):
            out.append(date(2026, 1, 1 + i))
        elif kind.startswith("tuple"):
            out.append((f"F{i}",))
        elif kind == "Issuer":
            out.append(Issuer("0000001750", "AAR CORP", "AIR"))
        else:
            out.append(f"{f.name}-{i}")
    return tuple(out)


RECORDS = [Transaction, Holding, ReportingOwner, Issuer, OwnershipDocument, FieldFootnote]


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_a_fast_record_is_the_same_record_and_stays_frozen(cls: type[Any]) -> None:
    """Guards against the faster construction yielding something other than the class's own
    record: another type, other values, a mutable object or one that does not pickle."""
    values = distinct_values(cls)
    made = fast_constructor(cls)(*values)
    plain = cls(*values)
    assert type(made) is cls
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    assert [getattr(made, f.name) for f in dataclasses.fields(cls)] == list(values)
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, first, values[1])
    assert pickle.loads(pickle.dumps(made)) == plain
    assert dataclasses.replace(made, **{first: values[0]}) == plain


def test_fields_left_out_take_their_defaults() -> None:
    """Guards against a default-valued field left unset (an AttributeError on first read)."""
    made = fast_constructor(Issuer)("0000001750", "AAR CORP", "AIR")
    assert made.foreign_trading_symbol is None
    assert made == Issuer("0000001750", "AAR CORP", "AIR")


def test_a_class_without_slots_is_refused() -> None:
    """Guards against a layout the class swap would not fit (CPython would raise later)."""

    @dataclasses.dataclass(frozen=True)
    class Loose:
        a: int

    with pytest.raises(TypeError, match="slotted"):
        fast_constructor(Loose)
