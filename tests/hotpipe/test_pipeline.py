import pytest

from hotpipe import CycleError, DefinitionError, InputError, NodeError, Pipeline, node


def test_run_all_outputs(chain):
    r = chain.run({"x": 1})
    assert r == {"y": 2, "z": 4, "s": "4"}
    assert [n.calls for n in r.profile.nodes] == [1, 1, 1]


def test_run_requested_outputs_runs_only_needed_nodes():
    calls = []

    @node(output="a")
    def fa(x):
        calls.append("fa")
        return x

    @node(output="b")
    def fb(x):
        calls.append("fb")
        return x * 10

    p = Pipeline([fa, fb])
    assert p.run({"x": 2}, outputs=["b"]) == {"b": 20}
    assert calls == ["fb"]
    assert p.run({"x": 2}, outputs="a") == {"a": 2}


def test_missing_input_only_for_needed_nodes():
    @node(output="a")
    def fa(x):
        return x

    @node(output="b")
    def fb(w):
        return w

    p = Pipeline([fa, fb])
    assert p.run({"x": 1}, outputs="a") == {"a": 1}
    with pytest.raises(InputError, match=r"missing input 'w', needed by node 'fb'"):
        p.run({"x": 1})


def test_optional_inputs_and_keyword_only_parameters():
    @node(output="y")
    def scale(x, *, factor=2, offset=0):
        return x * factor + offset

    p = Pipeline([scale])
    assert p.inputs == ("x", "factor", "offset")
    assert p.required_inputs == ("x",)
    assert p.run({"x": 3})["y"] == 6
    assert p.run({"x": 3, "offset": 1})["y"] == 7
    assert p.run({"x": 3, "factor": 10})["y"] == 30


def test_default_used_when_param_not_first():
    @node(output="y")
    def f(a=1, b=2, c=3):
        return (a, b, c)

    p = Pipeline([f])
    assert p.run({"c": 30})["y"] == (1, 2, 30)
    assert p.map({"b": [5, 6]}, over="b")["y"] == [(1, 5, 3), (1, 6, 3)]


def test_unknown_input_and_output_suggest_fix(chain):
    with pytest.raises(InputError, match=r"unknown input 'xx'.*Did you mean 'x'"):
        chain.run({"xx": 1})
    with pytest.raises(InputError, match=r"unknown output 'ss'.*Did you mean 's'"):
        chain.run({"x": 1}, outputs=["ss"])
    with pytest.raises(InputError, match="produced by node 'inc'"):
        chain.run({"x": 1, "y": 2})
    with pytest.raises(InputError, match="dict of input name"):
        chain.run([1])


def test_duplicate_outputs_rejected():
    a = node(lambda x: x, output="y", name="a")
    b = node(lambda x: x, output="y", name="b")
    with pytest.raises(DefinitionError, match=r"'y' is produced by two nodes.*'a' and 'b'"):
        Pipeline([a, b])


def test_duplicate_node_names_rejected():
    def f(x):
        return x

    with pytest.raises(DefinitionError, match="two nodes are named 'f'"):
        Pipeline([node(f, output="a"), node(f, output="b")])


def test_cycle_message_names_the_path():
    a = node(lambda c: c, output="a", name="na")
    b = node(lambda a: a, output="b", name="nb")
    c = node(lambda b: b, output="c", name="nc")
    with pytest.raises(CycleError) as info:
        Pipeline([a, b, c, node(lambda x: x, output="y", name="other")])
    msg = str(info.value)
    assert "cycle" in msg
    assert info.value.path[0] == info.value.path[-1]
    assert set(info.value.path) == {"na", "nb", "nc"}
    assert "--[a]" in msg and "--[b]" in msg and "--[c]" in msg


def test_empty_and_bad_pipelines():
    with pytest.raises(DefinitionError, match="at least one node"):
        Pipeline([])
    with pytest.raises(DefinitionError, match="list of nodes"):
        Pipeline(node(lambda x: x, output="y"))


def test_plain_functions_are_wrapped():
    def y(x):
        return x + 1

    p = Pipeline([y])
    assert p.run({"x": 1}) == {"y": 2}


def test_topological_order_independent_of_list_order(chain):
    p = Pipeline(list(reversed(chain.nodes)))
    assert [n.name for n in p.nodes] == ["inc", "dbl", "fmt"]
    assert p.run({"x": 1}) == chain.run({"x": 1})


def test_bind_fixes_inputs_and_returns_new_pipeline():
    @node(output="y")
    def affine(x, a, b=0):
        return a * x + b

    p = Pipeline([affine], name="affine")
    q = p.bind(a=10)
    assert p.inputs == ("x", "a", "b") and q.inputs == ("x", "b")
    assert q.run({"x": 2}) == {"y": 20}
    assert q.bind(b=1).run({"x": 2}) == {"y": 21}
    assert q.map({"x": [1, 2]}, over="x")["y"] == [10, 20]
    with pytest.raises(InputError, match="fixed by bind"):
        q.run({"x": 1, "a": 3})
    with pytest.raises(InputError, match="not an input"):
        p.bind(zz=1)
    assert "a=10" in repr(q)


def test_introspection(chain):
    assert chain.inputs == ("x",)
    assert chain.outputs == ("y", "z", "s")
    g = chain.graph
    assert [n.name for n in g.nodes] == ["inc", "dbl", "fmt"]
    assert [(e.source, e.target, e.name) for e in g.edges] == [
        ("input:x", "inc", "x"),
        ("inc", "dbl", "y"),
        ("dbl", "fmt", "z"),
    ]
    assert g.to_dict()["edges"][1] == ["inc", "dbl", "y"]
    assert repr(chain).splitlines() == [
        "Pipeline('chain'): inputs ['x'] -> outputs ['y', 'z', 's']",
        "  inc(x) -> y",
        "  dbl(y) -> z",
        "  fmt(z) -> s",
    ]
    mermaid = chain.visualize()
    assert mermaid.startswith("flowchart TD")
    assert "-->|y|" in mermaid and '[/"x"/]' in mermaid


def test_node_error_names_node_inputs_and_chains():
    @node(output="y")
    def boom(x):
        raise KeyError("nope")

    p = Pipeline([boom])
    with pytest.raises(NodeError) as info:
        p.run({"x": [1, 2, 3]})
    err = info.value
    assert err.node == "boom" and err.index is None
    assert "x=[1, 2, 3]" in str(err) and "KeyError" in str(err)
    assert isinstance(err.__cause__, KeyError)


def test_tuple_output_wrong_arity_is_a_clear_node_error():
    @node(output=("a", "b"))
    def pair(x):
        return (x, x, x)

    p = Pipeline([pair])
    with pytest.raises(NodeError, match="must return a tuple of 2"):
        p.run({"x": 1})
    with pytest.raises(NodeError, match="must return a tuple of 2"):
        p.map({"x": [1, 2]}, over="x")


def test_keyboard_interrupt_is_not_wrapped():
    @node(output="y")
    def stop(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Pipeline([stop]).run({"x": 1})


def test_profile_table_and_dict(chain):
    r = chain.map({"x": range(100)}, over="x")
    prof = r.profile
    assert prof.items == 100 and prof.mode == "map"
    assert prof["inc"].calls == 100
    text = str(prof)
    for word in ("inc", "dbl", "fmt", "(framework)", "calls", "wall"):
        assert word in text
    d = prof.to_dict()
    assert [n["name"] for n in d["nodes"]] == ["inc", "dbl", "fmt"]
    assert d["wall"] >= sum(n["wall"] for n in d["nodes"])
    assert prof.framework_wall >= 0
