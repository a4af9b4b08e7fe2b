"""StateTable: the change tracking the worker's change log is written from."""

from __future__ import annotations

from typing import Any

from streams.correlate.state import Stateful, StateTable


def test_changes_list_set_and_deleted_keys_once() -> None:
    table: StateTable[int] = StateTable("t")
    table["a"] = 1
    table["b"] = 2
    table["a"] = 3
    del table["b"]
    table.setdefault("c", 4)
    table.pop("missing", None)
    assert list(table.take_changes()) == [("a", 3, True), ("b", None, False), ("c", 4, True)]
    assert list(table.take_changes()) == []


def test_every_mutator_is_tracked() -> None:
    table: StateTable[int] = StateTable("t")
    table.update({"x": 1, "y": 2})
    assert table.pop("x") == 1
    table.popitem()
    table["z"] = 5
    table.clear()
    changes = list(table.take_changes())
    assert changes == [("x", None, False), ("y", None, False), ("z", None, False)]


def test_touch_marks_in_place_changes() -> None:
    table: StateTable[list[int]] = StateTable("t")
    table["k"] = [1]
    list(table.take_changes())
    table["k"].append(2)
    assert list(table.take_changes()) == []
    table.touch("k")
    assert list(table.take_changes()) == [("k", [1, 2], True)]


def test_restore_applies_without_marking() -> None:
    source: StateTable[str] = StateTable("t")
    source["a"] = "1"
    source["b"] = "2"
    del source["a"]
    copy: StateTable[str] = StateTable("t")
    copy["a"] = "old"
    list(copy.take_changes())
    for key, value, present in source.take_changes():
        copy.restore(key, value if present else None)
    assert dict(copy) == {"b": "2"}
    assert list(copy.take_changes()) == []


def test_stateful_lists_its_tables_by_name() -> None:
    class Rule(Stateful):
        def __init__(self) -> None:
            self.first: StateTable[Any] = StateTable("rule.first")
            self.second: StateTable[Any] = StateTable("rule.second")
            self.other = {"not": "a table"}

    assert sorted(Rule().tables()) == ["rule.first", "rule.second"]


def test_values_go_to_the_log_as_they_are_unless_the_table_says_otherwise() -> None:
    plain: StateTable[int] = StateTable("t")
    assert plain.to_log(5) == 5
    assert plain.from_log(5) == 5
    scaled: StateTable[int] = StateTable("t", to_log=lambda v: v * 10, from_log=lambda v: v // 10)
    assert scaled.from_log(scaled.to_log(7)) == 7
    assert scaled.to_log(7) == 70
