"""``refresh=``: recompute named nodes (and everything downstream), overwrite their entries."""

import pytest

import hotpipe
from hotpipe import InputError, Pipeline, node


def _pipeline(counter):
    @node(output="raw")
    def fetch(x, version):
        counter.append(("fetch", x))
        return f"{x}@{version}"

    @node(output="n")
    def measure(raw):
        counter.append(("measure", raw))
        return len(raw)

    @node(output="label")
    def label(x):
        counter.append(("label", x))
        return f"item {x}"

    return Pipeline([fetch, measure, label])


def test_refresh_recomputes_the_named_node_and_what_depends_on_it(tmp_path, engine):
    calls = []
    pipe = _pipeline(calls)
    cache = hotpipe.Cache(tmp_path / "c")
    inputs = {"x": [1, 2, 3], "version": "v1"}
    cold = pipe.map(inputs, over="x", cache=cache, engine=engine)
    warm = pipe.map(inputs, over="x", cache=cache, engine=engine)
    assert warm == cold and warm.profile["fetch"].hits == 3
    fresh = pipe.map(inputs, over="x", cache=cache, engine=engine, refresh=["fetch"])
    assert fresh == cold
    for name in ("fetch", "measure"):  # recomputed: measure reads fetch's output
        assert fresh.profile[name].hits == 0 and fresh.profile[name].calls > 0
    assert fresh.profile["label"].hits == 3  # independent of fetch: still read
    again = pipe.map(inputs, over="x", cache=cache, engine=engine)
    assert again.profile["fetch"].hits == 3 and again == cold


def test_refresh_overwrites_what_an_outside_change_made_stale(tmp_path):
    source = {"value": "old"}

    @node(output="page")
    def download(url):
        return f"{url}:{source['value']}"  # reads the world: the key cannot see it

    @node(output="size")
    def size(page):
        return len(page)

    pipe = Pipeline([download, size])
    cache = hotpipe.Cache(tmp_path / "c")
    assert pipe.run({"url": "u"}, cache=cache)["page"] == "u:old"
    source["value"] = "newer"
    assert pipe.run({"url": "u"}, cache=cache)["page"] == "u:old"  # stale, as keyed
    fresh = pipe.run({"url": "u"}, cache=cache, refresh=["download"])
    assert fresh["page"] == "u:newer" and fresh["size"] == 7
    after = pipe.run({"url": "u"}, cache=cache)  # the entries were overwritten
    assert after["page"] == "u:newer" and after.profile["download"].hits == 1


def test_refresh_true_recomputes_everything(tmp_path):
    calls = []
    pipe = _pipeline(calls)
    cache = hotpipe.Cache(tmp_path / "c")
    pipe.map({"x": [1, 2], "version": "v"}, over="x", cache=cache)
    calls.clear()
    pipe.map({"x": [1, 2], "version": "v"}, over="x", cache=cache, refresh=True)
    assert sorted({c[0] for c in calls}) == ["fetch", "label", "measure"]


def test_refresh_inside_a_nested_map(tmp_path):
    calls = []

    @node(output="y")
    def enc(x):
        calls.append(x)
        return x * 2

    inner = Pipeline([enc], name="inner")
    per = inner.as_node(name="per", over="x", inputs={"xs": "x"}, outputs={"y": "ys"})
    outer = Pipeline([per], name="outer")
    cache = hotpipe.Cache(tmp_path / "c")
    data = {"xs": [[1, 2], [3]]}
    first = outer.map(data, over="xs", cache=cache)
    calls.clear()
    fresh = outer.map(data, over="xs", cache=cache, refresh=["per/enc"])
    assert fresh == first and sorted(calls) == [1, 2, 3]
    calls.clear()
    outer.map(data, over="xs", cache=cache)
    assert calls == []


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"refresh": ["fetch"]}, "needs a cache"),
    ({"refresh": ["nope"], "cache": "C"}, "['nope'] are not nodes this call runs"),
    ({"refresh": "fetch", "cache": "C"}, "give True (every node) or a list of node names"),
])
def test_bad_refresh_is_an_input_error(tmp_path, kwargs, fragment):
    pipe = _pipeline([])
    if kwargs.get("cache") == "C":
        kwargs["cache"] = hotpipe.Cache(tmp_path / "c")
    with pytest.raises(InputError) as info:
        pipe.map({"x": [1], "version": "v"}, over="x", **kwargs)
    assert fragment in str(info.value)
    with pytest.raises(InputError):
        pipe.run({"x": 1, "version": "v"}, **kwargs)
    with pytest.raises(InputError) as info:
        pipe.imap({"x": iter([1]), "version": "v"}, over="x", **kwargs)
    assert fragment in str(info.value) and "imap(refresh=" in str(info.value)


@pytest.mark.parametrize("stream", [list, iter], ids=["list", "iterator"])
def test_imap_and_streamed_map_refresh(tmp_path, stream):
    calls = []
    pipe = _pipeline(calls)
    cache = hotpipe.Cache(tmp_path / "c")
    inputs = {"x": [1, 2, 3], "version": "v1"}
    cold = list(pipe.imap({**inputs, "x": stream(inputs["x"])}, over="x", cache=cache))
    calls.clear()
    warm = pipe.imap({**inputs, "x": stream(inputs["x"])}, over="x", cache=cache)
    assert list(warm) == cold and calls == [] and warm.profile["fetch"].hits == 3
    fresh = pipe.imap({**inputs, "x": stream(inputs["x"])}, over="x", cache=cache,
                      refresh=["fetch"])
    assert list(fresh) == cold
    assert fresh.profile["fetch"].hits == 0 and fresh.profile["label"].hits == 3
    assert sorted(c[0] for c in calls) == ["fetch"] * 3 + ["measure"] * 3
    calls.clear()
    streamed = pipe.map({**inputs, "x": iter(inputs["x"])}, over="x", cache=cache,
                        refresh=True)
    assert streamed["n"] == [x["n"] for x in cold] and len(calls) == 9
