"""The MODIFY diff: attribute names added, removed and changed."""

from __future__ import annotations

from decimal import Decimal

from ddbstream.core.decode import diff_images


def test_added_removed_changed_sorted():
    old = {"a": 1, "b": "x", "c": [1, 2], "z": None}
    new = {"a": 1, "b": "y", "c": [1, 2, 3], "d": True}
    assert diff_images(old, new) == (("d",), ("z",), ("b", "c"))


def test_identical_images_have_no_changes():
    img = {"m": {"n": [1, {"x": Decimal("1.5")}]}, "s": ["a", "b"]}
    assert diff_images(img, {**img}) == ((), (), ())


def test_nested_change_is_a_change_of_the_top_level_attribute():
    assert diff_images({"m": {"n": {"o": 1}}}, {"m": {"n": {"o": 2}}}) == ((), (), ("m",))
    assert diff_images({"m": {"a": 1}}, {"m": {"a": 1, "b": 2}}) == ((), (), ("m",))


def test_type_changes_count_even_when_python_equal():
    # True == 1 and 0 == False in Python; in DynamoDB they are different values.
    assert diff_images({"f": True}, {"f": 1}) == ((), (), ("f",))
    assert diff_images({"f": 0}, {"f": False}) == ((), (), ("f",))
    assert diff_images({"f": "1"}, {"f": 1}) == ((), (), ("f",))
    assert diff_images({"f": [1]}, {"f": {"0": 1}}) == ((), (), ("f",))
    assert diff_images({"f": None}, {"f": []}) == ((), (), ("f",))


def test_equal_numbers_in_different_forms_are_unchanged():
    assert diff_images({"n": 1}, {"n": Decimal("1")}) == ((), (), ())
