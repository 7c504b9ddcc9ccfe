"""Safe evaluation of the ``$param`` expressions in node-YAML stream definitions.

BRAND node YAMLs may write a key's ``chan_per_stream`` / ``samp_per_stream`` as arithmetic over node
parameters (``$n_channels * 2``, ``($n_features*2 + 10)/$n_targets``) and ``sample_type`` as a single
parameter (``$output_dtype``). The supervisor substitutes them from ``nodes[<nickname>].parameters`` when a
graph is loaded; this module does the same for graphs whose supergraph carries no compiled definitions.

The evaluator is a tokenizer plus a recursive-descent parser over ``+ - * / % ^ ( )`` (``^`` and ``**``
are powers), numbers and ``$name`` parameters. It never calls :func:`eval` and evaluates in floating point,
so an expression cannot allocate huge integers or run arbitrary code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from ..errors import GraphError

#: Longest expression accepted; real ones are a few dozen characters.
MAX_EXPRESSION_LENGTH = 1000
#: Deepest nesting of parentheses / unary signs / powers accepted (keeps recursion bounded).
MAX_NESTING = 50

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<param>\$[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>\*\*|[-+*/%^()])
    """,
    re.VERBOSE,
)
_PARAM_NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "param", "op" or "end"
    text: str
    position: int


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            character = expression[position]
            if character == "$":
                raise ValueError(f"'$' at position {position} must be followed by a parameter name")
            raise ValueError(f"unexpected character {character!r} at position {position}")
        if match.lastgroup != "space":
            tokens.append(_Token(match.lastgroup, match.group(), position))
        position = match.end()
    tokens.append(_Token("end", "", len(expression)))
    return tokens


def _parameter_value(name: str, parameters: Mapping[str, Any]) -> float:
    if name not in parameters:
        known = ", ".join(sorted(map(str, parameters))) or "none"
        raise ValueError(f"unknown parameter '${name}' (the node's parameters are: {known})")
    value = parameters[name]
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"parameter '${name}' is {value!r}, not a number")
    if not math.isfinite(float(value)):
        raise ValueError(f"parameter '${name}' is {value!r}, not a finite number")
    return float(value)


class _Parser:
    """Recursive descent over the token list; evaluates while parsing.

    Grammar (lowest precedence first)::

        sum     := product (("+" | "-") product)*
        product := signed (("*" | "/" | "%") signed)*
        signed  := ("+" | "-") signed | power
        power   := atom (("^" | "**") signed)?      # right-associative, binds tighter than unary minus
        atom    := NUMBER | PARAM | "(" sum ")"
    """

    def __init__(self, tokens: list[_Token], parameters: Mapping[str, Any]) -> None:
        self._tokens = tokens
        self._index = 0
        self._depth = 0
        self._parameters = parameters

    def parse(self) -> float:
        value = self._sum()
        token = self._peek()
        if token.kind != "end":
            raise ValueError(f"unexpected {token.text!r} at position {token.position}")
        return value

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _take(self) -> _Token:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _descend(self) -> None:
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise ValueError(f"expression nests deeper than {MAX_NESTING} levels")

    def _sum(self) -> float:
        value = self._product()
        while self._peek().text in ("+", "-"):
            operator = self._take().text
            right = self._product()
            value = value + right if operator == "+" else value - right
        return value

    def _product(self) -> float:
        value = self._signed()
        while self._peek().text in ("*", "/", "%"):
            operator = self._take()
            right = self._signed()
            if operator.text == "*":
                value = value * right
            elif right == 0:
                raise ValueError(f"division by zero ('{operator.text}' at position {operator.position})")
            elif operator.text == "/":
                value = value / right
            else:
                value = value % right  # Python's (and numpy's) sign convention
        return value

    def _signed(self) -> float:
        if self._peek().text in ("+", "-"):
            operator = self._take().text
            self._descend()
            value = self._signed()
            self._depth -= 1
            return -value if operator == "-" else value
        return self._power()

    def _power(self) -> float:
        base = self._atom()
        if self._peek().text not in ("^", "**"):
            return base
        operator = self._take()
        self._descend()
        exponent = self._signed()
        self._depth -= 1
        if base == 0 and exponent < 0:
            raise ValueError(
                f"division by zero (0 raised to a negative power at position {operator.position})"
            )
        try:
            value = base**exponent
        except OverflowError:
            raise ValueError(
                f"result too large ('{operator.text}' at position {operator.position})"
            ) from None
        if isinstance(value, complex):
            raise ValueError(f"negative number raised to a fractional power at position {operator.position}")
        return value

    def _atom(self) -> float:
        token = self._take()
        if token.kind == "number":
            return float(token.text)
        if token.kind == "param":
            return _parameter_value(token.text[1:], self._parameters)
        if token.text == "(":
            self._descend()
            value = self._sum()
            self._depth -= 1
            closing = self._take()
            if closing.text != ")":
                raise ValueError(f"missing ')' for the '(' at position {token.position}")
            return value
        if token.kind == "end":
            raise ValueError("expression ends where a number, '$parameter' or '(' was expected")
        raise ValueError(f"unexpected {token.text!r} at position {token.position}")


def _fail(where: str, message: str) -> GraphError:
    prefix = f"{where}: " if where else ""
    return GraphError(f"{prefix}{message}")


def evaluate_expression(expression: str, parameters: Mapping[str, Any], where: str = "") -> float:
    """Evaluate an arithmetic expression over numbers and ``$name`` parameters.

    Parameters
    ----------
    expression : str
        E.g. ``"$n_channels * 2"`` or ``"($n_features*2 + 10)/$n_targets"``. Operators: ``+ - * / %``,
        ``^`` or ``**`` (power), parentheses, unary ``+``/``-``.
    parameters : Mapping
        The node's parameters (``nodes[<nickname>].parameters``). A single-item list counts as its item;
        values must be real numbers (not booleans).
    where : str, optional
        What is being evaluated (node, stream, key, field); prefixes error messages.

    Returns
    -------
    float
        The finite value of the expression.

    Raises
    ------
    GraphError
        On bad syntax, an unknown or non-numeric parameter, division by zero or a non-finite result. The
        message names ``where``, the expression and the problem.
    """
    if not isinstance(expression, str):
        raise _fail(where, f"expected an expression string, got {expression!r}")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise _fail(where, f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        value = _Parser(_tokenize(expression), parameters).parse()
    except ValueError as error:
        raise _fail(where, f"cannot evaluate {expression!r}: {error}") from None
    if not math.isfinite(value):
        raise _fail(where, f"cannot evaluate {expression!r}: the result is not finite")
    return value


def resolve_dimension(value: Any, parameters: Mapping[str, Any], where: str = "") -> int:
    """Resolve a ``chan_per_stream`` / ``samp_per_stream`` value to a positive integer.

    Parameters
    ----------
    value : int, float, str or single-item list
        A number, or an expression string (see :func:`evaluate_expression`).
    parameters : Mapping
        The node's parameters.
    where : str, optional
        Context for error messages.

    Returns
    -------
    int
        The value truncated towards zero (as BRAND's supervisor does).

    Raises
    ------
    GraphError
        If the value cannot be evaluated or is smaller than 1.
    """
    raw = value
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        raise _fail(where, f"expected a number or an expression, got {raw!r}")
    if isinstance(value, str):
        number = evaluate_expression(value, parameters, where)
    elif isinstance(value, Real):
        number = float(value)
        if not math.isfinite(number):
            raise _fail(where, f"expected a finite number, got {raw!r}")
    else:
        raise _fail(where, f"expected a number or an expression, got {raw!r}")
    result = int(number)
    if result < 1:
        raise _fail(where, f"{raw!r} evaluates to {number:g}; a stream dimension must be at least 1")
    return result


def resolve_sample_type(value: Any, parameters: Mapping[str, Any], where: str = "") -> str:
    """Resolve a ``sample_type`` to a numpy dtype name, or ``"str"`` for UTF-8 text.

    Parameters
    ----------
    value : str
        A dtype name (``int16``, ``float32``, ``str``, ...) or ``$name`` (the whole value) naming a node
        parameter that holds one.
    parameters : Mapping
        The node's parameters.
    where : str, optional
        Context for error messages.

    Returns
    -------
    str
        ``"str"`` or the canonical numpy name (``"float"`` becomes ``"float64"``).

    Raises
    ------
    GraphError
        For a non-string value, an unknown parameter, an expression (operators are not allowed here) or a
        name numpy does not know.
    """
    if not isinstance(value, str):
        raise _fail(where, f"expected a dtype name such as 'int16', 'float32' or 'str', got {value!r}")
    text = value.strip()
    if text.startswith("$"):
        match = _PARAM_NAME.fullmatch(text)
        if match is None:
            raise _fail(
                where, f"{value!r}: a sample_type may only be a single '$parameter', without operators"
            )
        name = match.group(1)
        if name not in parameters:
            known = ", ".join(sorted(map(str, parameters))) or "none"
            raise _fail(where, f"{value!r}: unknown parameter '${name}' (the node's parameters are: {known})")
        text = parameters[name]
        if isinstance(text, list | tuple) and len(text) == 1:
            text = text[0]
        if not isinstance(text, str):
            raise _fail(where, f"{value!r}: parameter '${name}' is {text!r}, not a dtype name")
        text = text.strip()
    if text == "str":
        return "str"
    try:
        dtype = np.dtype(text)
    except (TypeError, ValueError):
        raise _fail(
            where, f"{value!r} is not a numpy dtype name (use e.g. int16, float32, uint64 or str)"
        ) from None
    if dtype.kind not in "biuf":
        raise _fail(where, f"{value!r} is not a numeric dtype (use e.g. int16, float32, uint64 or str)")
    return dtype.name
