"""`indented`: the text `json.dumps(…, ensure_ascii=False, indent=2)` writes, byte for byte, for every kind
of value an output holds — msgspec lays out what Python's C encoder wrote."""

import json
import random
import struct

import pytest

from acv_xl.outputs.json_text import indented


def _reference(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def test_floats_are_written_as_python_writes_them():
    # exponents (« 1e+16 », « 2.5e-07 »: msgspec would write « 1e16 », « 2.5e-7 »), -0.0, the extremes
    values = [1e16, 1e-05, 2.5e-07, -0.0, 0.0, 5e-324, 1.7976931348623157e308, 0.1, 1234567.89, -1e22, 10 ** 30]
    rng = random.Random(14)
    while len(values) < 5000:
        x = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        if x == x and abs(x) != float("inf"):
            values.append(x)
    assert indented(values) == _reference(values)


def test_texts_containers_and_constants_are_laid_out_as_python_lays_them_out():
    text = "".join(chr(i) for i in range(0, 0x800)) + "\u2028\u2029\ufeff€é\U0001F600\x7f"
    data = {"a": {}, "b": [], "c": [{"x": 1}, [[]], [{}]], text: [text, True, False, None, "", " ", '\\"'],
            "": {"d": {"e": [1, 2.5, (3, 4)]}}, "n": -5}
    assert indented(data) == _reference(data)
    assert indented({}) == "{}" and indented([]) == "[]" and indented("é") == '"é"'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_what_json_cannot_hold_is_written_as_python_writes_it(value):
    data = {"total": value, "liste": [1.5, value]}
    assert indented(data) == _reference(data)  # NaN, Infinity: not JSON, but what the program always wrote


def test_a_lone_surrogate_is_left_to_python():
    assert indented({"id": "ACV\ud800"}) == _reference({"id": "ACV\ud800"})
