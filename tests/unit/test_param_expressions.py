"""The safe ``$param`` evaluator of node-YAML stream definitions (as BRAND's supervisor substitutes ``$var`` from the node's parameters)."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from neuroconv_brand.errors import GraphError
from neuroconv_brand.graph.param_expressions import (
    MAX_EXPRESSION_LENGTH,
    evaluate_expression,
    resolve_dimension,
    resolve_sample_type,
)

# Parameters as they appear in real graphs (nsp_all_graph.yaml, cerebusAdapterGem, func_generator).
PARAMETERS = {
    "n_channels": 256,
    "chan_per_stream": [96],
    "samp_per_stream": [30],
    "n_features": 96,
    "n_targets": 2,
    "bin_size": 10.5,
    "zero": 0,
    "output_dtype": "float32",
    "move_dtype": ["int8"],
    "enabled": True,
    "label": "many",
    "pair": [1, 2],
    "infinite": float("inf"),
    "nested": {"a": 1},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("42", 42.0),
        ("  7 ", 7.0),
        ("1.5", 1.5),
        (".5", 0.5),
        ("2.", 2.0),
        ("1e3", 1000.0),
        ("2.5E-1", 0.25),
        ("$n_channels", 256.0),
        ("$chan_per_stream", 96.0),  # single-item lists are unwrapped
        ("$n_channels * 2", 512.0),
        ("($n_features*2 + 10)/$n_targets", 101.0),  # the ExportNwbGuidelines example
        ("$n_channels*2+10/$n_targets", 517.0),
        ("2 + 3 * 4", 14.0),
        ("(2 + 3) * 4", 20.0),
        ("10 - 4 - 3", 3.0),
        ("100 / 10 / 5", 2.0),
        ("7 % 3", 1.0),
        ("-7 % 3", 2.0),
        ("2 * 7 % 4", 2.0),
        ("2 ^ 10", 1024.0),
        ("2 ** 10", 1024.0),
        ("2 ^ 3 ^ 2", 512.0),  # right-associative
        ("-2 ^ 2", -4.0),  # power binds tighter than unary minus
        ("2 ^ -1", 0.5),
        ("-$n_targets", -2.0),
        ("+3", 3.0),
        ("--3", 3.0),
        ("$bin_size * 2", 21.0),
        ("((((1))))", 1.0),
    ],
)
def test_evaluate_expression(expression: str, expected: float) -> None:
    assert evaluate_expression(expression, PARAMETERS) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "$n_chanels",
            "unknown parameter '$n_chanels' (the node's parameters are: bin_size, chan_per_stream",
        ),
        ("$label * 2", "parameter '$label' is 'many', not a number"),
        ("$enabled + 1", "parameter '$enabled' is True, not a number"),
        ("$pair", "parameter '$pair' is [1, 2], not a number"),
        ("$nested", "parameter '$nested' is {'a': 1}, not a number"),
        ("$infinite", "parameter '$infinite' is inf, not a finite number"),
        ("$n_channels / $zero", "division by zero ('/' at position 12)"),
        ("5 % (1 - 1)", "division by zero ('%' at position 2)"),
        ("0 ^ -1", "division by zero (0 raised to a negative power at position 2)"),
        ("(-8) ^ 0.5", "negative number raised to a fractional power at position 5"),
        ("10 ^ 10 ^ 10", "result too large ('^' at position 3)"),
        ("1e308 * 10", "the result is not finite"),
        ("$n_channels *", "expression ends where a number, '$parameter' or '(' was expected"),
        ("", "expression ends where a number, '$parameter' or '(' was expected"),
        ("(1 + 2", "missing ')' for the '(' at position 0"),
        ("1 + 2)", "unexpected ')' at position 5"),
        ("2 3", "unexpected '3' at position 2"),
        ("$n_channels $n_targets", "unexpected '$n_targets' at position 12"),
        ("* 2", "unexpected '*' at position 0"),
        ("2 # 3", "unexpected character '#' at position 2"),
        ("n_channels", "unexpected character 'n' at position 0"),
        ("$ n_channels", "'$' at position 0 must be followed by a parameter name"),
        ("$1abc", "'$' at position 0 must be followed by a parameter name"),
        ("(" * 60 + "1" + ")" * 60, "expression nests deeper than 50 levels"),
        ("-" * 60 + "1", "expression nests deeper than 50 levels"),
    ],
)
def test_evaluate_expression_errors(expression: str, message: str) -> None:
    with pytest.raises(GraphError, match=re.escape(message)) as caught:
        evaluate_expression(expression, PARAMETERS, where="node 'nsp_all', stream 'sbp', key 'samples'")
    assert str(caught.value).startswith(
        f"node 'nsp_all', stream 'sbp', key 'samples': cannot evaluate {expression!r}"
    )


def test_evaluate_expression_rejects_non_strings_and_huge_input() -> None:
    with pytest.raises(GraphError, match=r"^x: expected an expression string, got 5$"):
        evaluate_expression(5, PARAMETERS, where="x")  # type: ignore[arg-type]
    with pytest.raises(GraphError, match=f"expression is longer than {MAX_EXPRESSION_LENGTH} characters"):
        evaluate_expression("1+" * MAX_EXPRESSION_LENGTH + "1", PARAMETERS)


def test_error_without_where_has_no_prefix() -> None:
    with pytest.raises(GraphError, match=r"^cannot evaluate '1/0': division by zero"):
        evaluate_expression("1/0", {})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (96, 96),
        ([30], 30),
        (2.9, 2),  # truncated like the supervisor's int()
        ("$n_channels * 2", 512),
        ("$n_features / 5", 19),  # 19.2 truncated
        ("$samp_per_stream", 30),
        (["$n_targets"], 2),
    ],
)
def test_resolve_dimension(value: object, expected: int) -> None:
    assert resolve_dimension(value, PARAMETERS) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "chan_per_stream: expected a number or an expression, got True"),
        (None, "chan_per_stream: expected a number or an expression, got None"),
        ([1, 2], "chan_per_stream: expected a number or an expression, got [1, 2]"),
        ({"n": 1}, "chan_per_stream: expected a number or an expression, got {'n': 1}"),
        (float("nan"), "chan_per_stream: expected a finite number, got nan"),
        (0, "chan_per_stream: 0 evaluates to 0; a stream dimension must be at least 1"),
        ("$n_targets - 2", "'$n_targets - 2' evaluates to 0; a stream dimension must be at least 1"),
        ("1 / 4", "'1 / 4' evaluates to 0.25; a stream dimension must be at least 1"),
        ("$zero_channels", "cannot evaluate '$zero_channels': unknown parameter '$zero_channels'"),
    ],
)
def test_resolve_dimension_errors(value: object, message: str) -> None:
    with pytest.raises(GraphError, match=re.escape(message)):
        resolve_dimension(value, PARAMETERS, where="chan_per_stream")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("int16", "int16"),
        ("float32", "float32"),
        ("uint64", "uint64"),
        ("bool", "bool"),
        ("float", "float64"),
        (" int8 ", "int8"),
        ("str", "str"),
        ("$output_dtype", "float32"),
        ("$move_dtype", "int8"),
    ],
)
def test_resolve_sample_type(value: str, expected: str) -> None:
    assert resolve_sample_type(value, PARAMETERS) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (16, "expected a dtype name such as 'int16', 'float32' or 'str', got 16"),
        (None, "expected a dtype name such as 'int16', 'float32' or 'str', got None"),
        ("int17", "'int17' is not a numpy dtype name (use e.g. int16, float32, uint64 or str)"),
        ("U8", "'U8' is not a numeric dtype"),
        ("$dtype", "'$dtype': unknown parameter '$dtype' (the node's parameters are: bin_size"),
        ("$n_channels", "'$n_channels': parameter '$n_channels' is 256, not a dtype name"),
        ("$output_dtype + 1", "a sample_type may only be a single '$parameter', without operators"),
        ("$", "a sample_type may only be a single '$parameter', without operators"),
        ("$label", "'$label' is not a numpy dtype name"),
    ],
)
def test_resolve_sample_type_errors(value: object, message: str) -> None:
    with pytest.raises(GraphError, match=re.escape(message)) as caught:
        resolve_sample_type(value, PARAMETERS, where="node 'x', stream 'y', key 'z', sample_type")
    assert str(caught.value).startswith("node 'x', stream 'y', key 'z', sample_type: ")


# -- properties ------------------------------------------------------------------------------------

_PROPERTY_PARAMETERS = {"a": 3, "b": [7], "c": 0.5}
_OPERATIONS = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "/": lambda x, y: x / y,
}
_leaves = st.one_of(
    st.integers(0, 10_000).map(lambda n: (str(n), float(n))),
    st.sampled_from([("$a", 3.0), ("$b", 7.0), ("$c", 0.5)]),
)


def _combine(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(children, st.sampled_from(sorted(_OPERATIONS)), children)


def _render(tree: tuple) -> tuple[str, float]:
    if isinstance(tree[0], str):
        return tree
    (left_text, left), operator, (right_text, right) = _render(tree[0]), tree[1], _render(tree[2])
    if operator == "/" and right == 0:
        raise ZeroDivisionError
    return f"({left_text} {operator} {right_text})", _OPERATIONS[operator](left, right)


@given(st.recursive(_leaves, _combine, max_leaves=12))
def test_matches_a_direct_computation_of_the_tree(tree: tuple) -> None:
    try:
        text, expected = _render(tree)
    except ZeroDivisionError:
        assume(False)
    assume(math.isfinite(expected))
    assert math.isclose(evaluate_expression(text, _PROPERTY_PARAMETERS), expected, rel_tol=1e-9, abs_tol=1e-9)


@given(st.text(alphabet="0123456789$abcx_+-*/%^(). e", max_size=40))
def test_any_text_gives_a_number_or_a_graph_error(text: str) -> None:
    try:
        value = evaluate_expression(text, _PROPERTY_PARAMETERS)
    except GraphError:
        return
    assert math.isfinite(value)
