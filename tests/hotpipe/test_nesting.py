import pytest

from hotpipe import InputError, NodeError, Pipeline, node


@pytest.fixture
def inner():
    @node(output="sq")
    def square(v):
        return v * v

    @node(output="neg")
    def negate(sq):
        return -sq

    @node(output="tag")
    def tag(v):
        return f"<{v}>"

    return Pipeline([square, negate, tag], name="inner")


def test_as_node_inline_with_renames(inner):
    n = inner.as_node(inputs={"x": "v"}, outputs={"neg": "y"})
    assert n.params == ("x",) and n.outputs == ("y",)

    @node(output="out")
    def plus_one(y):
        return y + 1

    outer = Pipeline([n, plus_one], name="outer")
    assert outer.inputs == ("x",)
    assert outer.run({"x": 3}) == {"y": -9, "out": -8}
    assert outer.map({"x": [1, 2]}, over="x")["out"] == [0, -3]
    # inlined: the profile shows the inner nodes under the nested node's name
    assert [p.name for p in outer.run({"x": 1}).profile.nodes] == [
        "inner.square",
        "inner.negate",
        "plus_one",
    ]


def test_unused_inner_outputs_are_not_computed():
    calls = []

    @node(output="a")
    def fa(v):
        calls.append("fa")
        return v

    @node(output="b")
    def fb(v):
        calls.append("fb")
        return v

    inner = Pipeline([fa, fb], name="inner")
    n = inner.as_node(name="both")
    assert n.outputs == ("a", "b")

    @node(output="c")
    def use_a(a):
        return a

    outer = Pipeline([n, use_a])
    assert outer.run({"v": 1}, outputs="c") == {"c": 1}
    assert calls == ["fa"]
    calls.clear()
    mapped = inner.as_node(name="mapped", over="v")
    outer2 = Pipeline([mapped, use_a])
    assert outer2.run({"v": [1, 2]}, outputs="c") == {"c": [1, 2]}
    assert calls == ["fa", "fa"]


def test_as_node_over_takes_and_returns_lists(inner):
    n = inner.as_node(name="per_item", over="v", inputs={"vs": "v"},
                      outputs={"sq": "squares", "tag": "tags"})

    @node(output="total")
    def total(squares):
        return sum(squares)

    outer = Pipeline([n, total])
    r = outer.run({"vs": [1, 2, 3]})
    assert r == {"squares": [1, 4, 9], "tags": ["<1>", "<2>", "<3>"], "total": 14}
    # a nested map inside an outer map
    r = outer.map({"vs": [[1], [2, 3]]}, over="vs", outputs="total")
    assert r["total"] == [1, 13]
    # direct call of the node works like the function
    assert n(vs=[2]) == ([4], ["<2>"])


def test_nested_in_nested_and_inner_bound_values():
    @node(output="y")
    def affine(x, a):
        return a * x

    level1 = Pipeline([affine], name="l1").bind(a=3)
    level2 = Pipeline([level1.as_node(name="l1")], name="l2")
    level3 = Pipeline([level2.as_node(name="l2", outputs={"y": "out"})])
    assert level3.inputs == ("x",)
    assert level3.run({"x": 2}) == {"out": 6}
    assert level3.run({"x": 2}).profile.nodes[0].name == "l2.l1.affine"


def test_intermediate_names_do_not_leak(inner):
    # the inner pipeline's 'sq' stays private when not exported, so the outer may reuse it
    @node(output="sq")
    def other(x):
        return x

    n = inner.as_node(outputs={"neg": "neg"})
    outer = Pipeline([n, other])
    assert outer.run({"v": 2, "x": 5}) == {"neg": -4, "sq": 5}


def test_nested_error_is_a_node_error(inner):
    @node(output="bad")
    def bad(sq):
        raise ValueError("no")

    p = Pipeline([*inner.nodes, bad], name="p")
    n = p.as_node(name="wrap", over="v", outputs={"bad": "bad"})
    with pytest.raises(NodeError) as info:
        Pipeline([n]).run({"v": [1]})
    # the inner node is named, with its index path; the original exception is the cause
    assert info.value.node == "wrap/bad"
    assert info.value.index is None and info.value.path == (0,)
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value).count("traceback") == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"inputs": {"x": "nope"}}, "not an input of the nested pipeline"),
        ({"outputs": {"nope": "y"}}, "not an output of the nested pipeline"),
        ({"over": "nope"}, "'nope' is not an input"),
        ({"over": "v", "mode": "cross"}, "choose one of"),
        ({"outputs": {"sq": "y", "neg": "y"}}, "two outputs to one name"),
        ({"outputs": {"sq": "v"}}, "both an input and an output"),
    ],
)
def test_as_node_errors(inner, kwargs, message):
    with pytest.raises(InputError, match=message):
        inner.as_node(**kwargs)
