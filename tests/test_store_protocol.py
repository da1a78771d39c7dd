"""The store contract (core.store.protocol.SiftStore): what a second backend must offer."""

from __future__ import annotations

import inspect

from core.auth import STORE_PERMISSIONS
from core.store import Store
from core.store.protocol import SiftStore


def contract_methods() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(SiftStore).items()
        if callable(member) and not name.startswith("_")
    }


def test_the_sqlite_store_offers_every_method_of_the_contract_with_its_parameters():
    for name, wanted in contract_methods().items():
        offered = inspect.signature(getattr(Store, name))
        assert list(offered.parameters) == list(wanted.parameters), name
        for parameter in wanted.parameters.values():
            assert offered.parameters[parameter.name].kind == parameter.kind, (name, parameter)


def test_the_contract_covers_the_whole_public_store_and_every_method_has_a_permission():
    public = {name for name in dir(Store) if not name.startswith("_")} - {"close"}
    assert public == set(contract_methods())
    assert set(contract_methods()) | {"path"} <= set(STORE_PERMISSIONS)
