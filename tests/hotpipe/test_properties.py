"""Random DAGs give the same values through run, map and a naive reference evaluator."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hotpipe import Local, Pipeline, node

ROOTS = ("a", "b", "c")


def _make_function(i: int, params: list[str], defaults: dict[str, int], n_out: int):
    """A real function with the given parameter names (wiring is by name)."""
    sig = ", ".join(p if p not in defaults else f"{p}={defaults[p]}" for p in params)
    body = " + ".join(f"{p} * {k + 2}" for k, p in enumerate(params)) or "0"
    ret = f"(({body}) * {i + 3} + {i}) % 1000003"
    if n_out == 2:
        ret = f"({ret}, ({ret}) + 1)"
    ns: dict = {}
    exec(f"def n{i}({sig}):\n    return {ret}\n", ns)
    return ns[f"n{i}"]


@st.composite
def dags(draw):
    n_nodes = draw(st.integers(1, 6))
    available = list(ROOTS)
    specs = []
    for i in range(n_nodes):
        params = draw(st.lists(st.sampled_from(available), min_size=1, max_size=3, unique=True))
        defaults = {p: 7 for p in params if p in ROOTS and draw(st.booleans())}
        # parameters with defaults must come last in a def
        params.sort(key=lambda p: p in defaults)
        n_out = draw(st.sampled_from([1, 1, 2]))
        outs = [f"v{i}"] if n_out == 1 else [f"v{i}a", f"v{i}b"]
        specs.append((i, params, defaults, outs))
        available.extend(outs)
    nest_upto = draw(st.integers(0, n_nodes))  # nodes [0, nest_upto) go into a nested pipeline
    bind_b = draw(st.booleans())
    return specs, nest_upto, bind_b


def build(specs, nest_upto, bind_b):
    nodes = [
        node(_make_function(i, params, defaults, len(outs)),
             output=outs[0] if len(outs) == 1 else tuple(outs))
        for i, params, defaults, outs in specs
    ]
    if nest_upto >= 1:
        inner = Pipeline(nodes[:nest_upto], name="inner")
        every_output = {o: o for o in inner.outputs}
        nodes = [inner.as_node(name="inner", outputs=every_output), *nodes[nest_upto:]]
    pipe = Pipeline(nodes, name="random")
    return pipe.bind(b=5) if bind_b and "b" in pipe.inputs else pipe


def reference(specs, values):
    env = dict(values)
    for i, params, defaults, outs in specs:
        args = [env[p] if p in env else defaults[p] for p in params]
        fn = _make_function(i, params, defaults, len(outs))
        result = fn(*args)
        env.update(zip(outs, result if len(outs) == 2 else (result,), strict=True))
    return env


@settings(max_examples=150, deadline=None)
@given(dags(), st.lists(st.integers(-50, 50), min_size=0, max_size=6), st.data())
def test_run_and_map_match_reference(dag, a_values, data):
    specs, nest_upto, bind_b = dag
    pipe = build(specs, nest_upto, bind_b)
    bound = dict(pipe.bound)
    required = set(pipe.required_inputs)
    scalar = {r: 11 * (k + 1) for k, r in enumerate(ROOTS) if r in pipe.inputs}
    # optional roots are sometimes left out to exercise defaults
    given_inputs = {
        k: v for k, v in scalar.items() if k in required or data.draw(st.booleans())
    }
    outputs = pipe.outputs
    subset = data.draw(st.lists(st.sampled_from(outputs), unique=True, max_size=len(outputs)))
    want = subset or outputs

    ref = reference(specs, {**given_inputs, **bound})
    got = pipe.run(given_inputs, outputs=subset or None)
    assert got == {o: ref[o] for o in want}

    if "a" not in pipe.inputs:
        return
    inputs = {**given_inputs, "a": a_values}
    expected = [reference(specs, {**inputs, "a": a, **bound}) for a in a_values]
    for engine in (Local(), Local(chunk_size=2)):
        got = pipe.map(inputs, over="a", outputs=subset or None, engine=engine)
        assert got == {o: [e[o] for e in expected] for o in want}
