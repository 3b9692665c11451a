"""Typed edges: ``Pipeline(...)`` rejects an annotated output that can never fit the annotated
parameter it feeds, and lets through everything it cannot decide."""

# ruff: noqa: UP007, UP045 - Optional and Union are what these tests check
from __future__ import annotations

import decimal
import pickle
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, NewType, Optional, TypeVar, Union

import pytest

import hotpipe
from hotpipe import DefinitionError, Pipeline, TypeMismatchError, node
from hotpipe._typecheck import fits, type_name

T = TypeVar("T")
Num = TypeVar("Num", int, float)
Bounded = TypeVar("Bounded", bound=Sequence[int])
UserId = NewType("UserId", int)


class Animal:
    pass


class Dog(Animal):
    pass


def edge(out: Any, param: Any) -> Pipeline:
    """A two-node pipeline whose edge ``v`` has these annotations."""
    return Pipeline(_raw(out, param), name="edge")


FITS = [
    (int, int),
    (int, float),
    (int, complex),
    (bool, int),
    (Dog, Animal),
    (Animal, Dog),
    (int, Any),
    (Any, str),
    (str, object),
    (object, str),
    (int, Optional[int]),
    (Optional[int], int),
    (int | None, int | str),
    (list[int], list[int]),
    (list[int], list),
    (list, list[int]),
    (list[int], Sequence[int]),
    (list[int], Iterable[float]),
    (dict[str, int], Mapping[str, float]),
    (tuple[int, str], tuple[int, str]),
    (tuple[int, ...], tuple[int, int]),
    (tuple[int, int], tuple[int, ...]),
    (tuple[int, int], Sequence[int]),
    (Sequence[int], tuple[int, int]),
    (int, T),
    (str, T),
    (T, int),
    (int, Num),
    (float, Num),
    (list[int], Bounded),
    (UserId, int),
    (int, UserId),
    (Literal["a", "b"], str),
    (str, Literal["a"]),
    (Literal[1], Literal[1, 2]),
    (typing.Annotated[int, "meta"], int),
    (typing.Callable[[int], str], typing.Callable),
    (typing.Callable[[int], str], typing.Callable[[str], int]),
    (None, None),
    (None, Optional[int]),
    (typing.Iterator[int], Iterable[int]),
    ("Undefined", int),
    (int, "NotDefinedAnywhere"),
]

MISFITS = [
    (str, int),
    (float, int),
    (complex, float),
    (int, str),
    (None, int),
    (Optional[str], int),
    (int | str, bytes),
    (list[str], list[int]),
    (list[int], dict),
    (dict[str, int], dict[str, str]),
    (tuple[int, str], tuple[int, int]),
    (tuple[int, str], tuple[int]),
    (tuple[str, ...], Sequence[int]),
    (str, Num),
    (list[str], Bounded),
    (Literal["a"], int),
    (int, Literal["a"]),
    (Literal[1], Literal[2]),
    (Dog, int),
    (list[int], tuple[int, int]),
    (typing.Annotated[str, "meta"], int),
    (UserId, str),
    (set[int], list[int]),
]


@pytest.mark.parametrize(("out", "param"), FITS, ids=repr)
def test_fitting_edges_build(out, param):
    assert edge(out, param).outputs == ("v", "w")


@pytest.mark.parametrize(("out", "param"), MISFITS, ids=repr)
def test_misfitting_edges_are_rejected(out, param):
    with pytest.raises(TypeMismatchError) as info:
        edge(out, param)
    err = info.value
    assert isinstance(err, DefinitionError) and isinstance(err, hotpipe.HotpipeError)
    assert (err.source, err.target, err.name) == ("produce", "consume", "v")
    assert err.output_type == type_name(out) and err.param_type == type_name(param)
    assert Pipeline(_raw(out, param), strict=False).outputs == ("v", "w")


def _raw(out, param):
    def produce(x): ...

    def consume(v): ...

    produce.__annotations__ = {"return": out}
    consume.__annotations__ = {"v": param}
    return [node(produce, output="v"), node(consume, output="w")]


def test_message_names_both_nodes_the_value_and_both_types():
    @node(output="text")
    def render(x: int) -> str:
        return str(x)

    @node(output="total")
    def add(text: int, offset: int = 0) -> int:
        return text + offset

    with pytest.raises(TypeMismatchError) as info:
        Pipeline([render, add], name="report")
    msg = str(info.value)
    for part in ("'report'", "'render'", "'add'", "'text'", "as str", "as int", "strict=False"):
        assert part in msg, (part, msg)
    pipe = Pipeline([render, add], name="report", strict=False)
    with pytest.raises(hotpipe.NodeError):  # what the check prevents: a failure at run time
        pipe.run({"x": 1})


def test_string_annotations_resolve_and_unresolvable_ones_are_skipped():
    # this module has `from __future__ import annotations`: every annotation is a string
    @node(output="y")
    def a(x: int) -> list[str]:
        return [str(x)]

    @node(output="z")
    def b(y: list[int]) -> int:
        return len(y)

    with pytest.raises(TypeMismatchError, match=r"list\[str\].*list\[int\]"):
        Pipeline([a, b])

    class Local:
        pass

    @node(output="z")
    def c(y: Local) -> int:  # a class defined in a function body: not resolvable, not checked
        return 0

    assert Pipeline([a, c]).outputs == ("y", "z")


def test_unannotated_ends_are_not_checked():
    @node(output="y")
    def a(x):
        return str(x)

    @node(output="z")
    def b(y: int) -> int:
        return y

    @node(output="w")
    def c(z):
        return z

    assert Pipeline([a, b, c]).outputs == ("y", "z", "w")


def test_tuple_outputs_check_each_element():
    @node(output=("q", "r"))
    def divide(a: int, b: int) -> tuple[int, str]:
        return a, str(b)

    @node(output="s")
    def total(q: int, r: int) -> int:
        return q + r

    with pytest.raises(TypeMismatchError, match=r"'r'.*element 1 of its tuple") as info:
        Pipeline([divide, total])
    assert info.value.name == "r"


def test_batch_nodes_compare_item_types():
    @node(output="y", batch=True)
    def embed(x: list[str]) -> list[float]:
        return [float(len(s)) for s in x]

    @node(output="z")
    def good(y: float) -> float:
        return y

    @node(output="z")
    def bad(y: str) -> str:
        return y

    assert Pipeline([embed, good]).run({"x": "ab"})["z"] == 2.0
    with pytest.raises(TypeMismatchError, match="returns 'y' as float"):
        Pipeline([embed, bad])


def test_async_nodes_use_the_awaited_type():
    @node(output="y")
    async def fetch(x: int) -> bytes:
        return b""

    @node(output="z")
    def parse(y: str) -> str:
        return y

    with pytest.raises(TypeMismatchError, match="as bytes"):
        Pipeline([fetch, parse])


def test_callable_classes_and_objects():
    class Model:
        def __init__(self, size: int) -> None:
            self.size = size

    class Scorer:
        def __call__(self, model: Model) -> float:
            return 1.0

    @node(output="label")
    def label(score: str) -> str:
        return score

    model = node(Model, output="model")
    assert Pipeline([model, node(Scorer(), name="scorer", output="score")]).outputs
    with pytest.raises(TypeMismatchError, match="'score'"):
        Pipeline([model, node(Scorer(), name="scorer", output="score"), label])


def test_nested_pipelines_check_both_sides():
    @node(output="words")
    def tokenize(sentence: str) -> list[str]:
        return sentence.split()

    @node(output="n")
    def count(words: list[str]) -> int:
        return len(words)

    inner = Pipeline([tokenize, count], name="sentence")
    per_sentence = inner.as_node(
        name="per_sentence",
        over="sentence",
        inputs={"sentences": "sentence"},
        outputs={"n": "lengths"},
    )

    @node(output="sentences")
    def split(text: str) -> list[str]:
        return text.split(". ")

    @node(output="sentences")
    def split_bad(text: str) -> list[int]:
        return [1]

    @node(output="longest")
    def longest(lengths: list[int]) -> int:
        return max(lengths)

    @node(output="longest")
    def longest_bad(lengths: list[str]) -> str:
        return lengths[0]

    doc = Pipeline([split, per_sentence, longest], name="doc")
    assert doc.run({"text": "a b. c"})["longest"] == 2
    with pytest.raises(TypeMismatchError) as info:
        Pipeline([split_bad, per_sentence, longest])
    err = info.value
    assert (err.source, err.target, err.param_type) == ("split_bad", "per_sentence", "list[str]")
    assert "node 'tokenize' takes 'sentence'" in str(err)
    with pytest.raises(TypeMismatchError) as info:
        Pipeline([split, per_sentence, longest_bad])
    assert (info.value.source, info.value.output_type) == ("per_sentence", "list[int]")
    assert "node 'count' returns 'n'" in str(info.value)

    # without over: the inner types pass through unchanged; inside a nested nested pipeline too
    once = inner.as_node(name="once")
    twice = Pipeline([once], name="outer").as_node(name="twice", outputs={"n": "n"})

    @node(output="text2")
    def shout(sentence: str) -> str:
        return sentence.upper()

    @node(output="sentence")
    def number(text: str) -> int:
        return 3

    @node(output="m")
    def half(n: str) -> str:
        return n

    assert Pipeline([once, half], strict=False)
    for inside in (once, twice):
        with pytest.raises(TypeMismatchError, match="'n'"):
            Pipeline([inside, half])
        with pytest.raises(TypeMismatchError, match="'sentence'"):
            Pipeline([number, inside])


def test_error_pickles_with_its_attributes():
    err = TypeMismatchError("a", "b", "v", "str", "int", pipeline="p")
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and (back.source, back.param_type) == ("a", "int")


def test_numpy_scalars_fit_python_numbers():
    np = pytest.importorskip("numpy")
    assert fits(np.int64, int) and fits(np.int64, float) and fits(np.float32, float)
    assert fits(np.float64, int) is False and fits(np.int64, str) is False
    assert fits(decimal.Decimal, float) is False  # a Number, but not a Real


def test_type_names_are_readable():
    assert type_name(Union[int, None]) == "int | None"
    assert type_name(dict[str, list[int]]) == "dict[str, list[int]]"
    assert type_name(tuple[int, ...]) == "tuple[int, ...]"
    assert type_name(Literal["a", 1]) == "Literal['a', 1]"
    assert type_name(Dog).endswith("test_typecheck.Dog")
    assert type_name(Sequence[int]) == "Sequence[int]"
    assert fits(Dog, Animal) and fits(str, int) is False
