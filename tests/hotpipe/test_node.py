import pytest

import hotpipe
from hotpipe import DefinitionError, node


def test_bare_decorator_names_output_after_function():
    @node
    def total(x, y):
        return x + y

    assert total.outputs == ("total",)
    assert total.params == ("x", "y")
    assert total(1, 2) == 3


def test_output_options_and_tuple_outputs():
    @node(output=("q", "r"), cache=False, version="2")
    def divmod_(a, b=3):
        return divmod(a, b)

    assert divmod_.outputs == ("q", "r")
    assert divmod_.unpack
    assert divmod_.defaults == {"b": 3}
    assert divmod_.required == ("a",)
    assert divmod_.cache is False and divmod_.version == "2"


def test_function_is_not_modified_and_node_is_frozen():
    def f(x):
        return x

    n = node(f, output="y")
    assert n.func is f
    assert not hasattr(f, "outputs")
    with pytest.raises(AttributeError):
        n.name = "other"


def test_lambda_takes_its_output_name():
    n = node(lambda x: x * 2, output="doubled")
    assert n.name == "doubled"
    with pytest.raises(DefinitionError, match="lambda"):
        node(lambda x: x)


@pytest.mark.parametrize(
    ("func", "kwargs", "message"),
    [
        (lambda *xs: 0, {"output": "y"}, r"\*args"),
        (lambda **kw: 0, {"output": "y"}, r"\*args/\*\*kwargs"),
        (lambda x, /: 0, {"output": "y"}, "positional-only"),
        (lambda x: 0, {"output": "x"}, "also one of its own parameters"),
        (lambda x: 0, {"output": ("a", "a")}, "repeats"),
        (lambda x: 0, {"output": "not a name"}, "identifier"),
        (lambda x: 0, {"output": ()}, "non-empty tuple"),
        (lambda x: 0, {"output": "y", "version": 3}, "version"),
    ],
)
def test_bad_definitions_are_rejected(func, kwargs, message):
    with pytest.raises(DefinitionError, match=message):
        node(func, **kwargs)


def test_not_callable():
    with pytest.raises(DefinitionError, match="needs a function"):
        node(3)


def test_renode_existing_node_changes_options():
    @node(output="y")
    def inc(x):
        return x + 1

    again = node(inc, output="z")
    assert again.outputs == ("z",) and again.func is inc.func
    assert repr(again) == "node inc(x) -> z"


def test_errors_share_one_root():
    for exc in (hotpipe.DefinitionError, hotpipe.CycleError, hotpipe.InputError, hotpipe.NodeError):
        assert issubclass(exc, hotpipe.HotpipeError)
    assert issubclass(hotpipe.CycleError, hotpipe.DefinitionError)
