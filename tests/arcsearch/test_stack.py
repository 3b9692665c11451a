"""Partial fits stacked greedily (``search/stack.py``, ``dsl.stack_layers``)."""

import numpy as np

from arcsearch import codegen, dsl
from arcsearch.search.stack import Layers


def g(rows):
    return np.array(rows, dtype=np.uint8)


def test_stack_layers_paints_the_first_program_on_top():
    x = dsl.as_grid([[1, 0, 0], [0, 0, 2]])
    out = dsl.stack_layers(x, (((("flip_h", ()),)), ()), 0)
    assert out.tolist() == [[1, 0, 1], [2, 0, 2]]
    src = codegen.render((("stack_layers", (((("flip_h", ()),), ()), 0)),))
    assert np.array_equal(codegen.compile_source(src)(x.tolist()), out)


def test_layers_cover_the_output_from_two_partial_fits():
    target = g([[1, 0, 1], [2, 0, 2]])
    layers = Layers([target])
    layers.offer([g([[1, 0, 0], [0, 0, 2]])], [g([[3, 0, 0]])], ("left",), 0)
    layers.offer([g([[0, 0, 1], [2, 0, 0]])], [g([[0, 0, 4]])], ("right",), 1)
    layers.offer([g([[5, 0, 0], [0, 0, 0]])], [g([[5, 0, 0]])], ("wrong",), 1)  # 5 != 1
    assert [e[0] for e in layers.entries] == [("left",), ("right",), ("wrong", ("recolor",
                                                                                  ({5: 1},)))]
    chosen, preds = layers.cover()
    assert chosen == [0, 1]
    assert preds[0].tolist() == [[3, 0, 4]]


def test_a_layer_painting_a_wrong_cell_is_refused():
    layers = Layers([g([[1, 1], [0, 0]])])
    layers.offer([g([[1, 0], [1, 0]])], [g([[1]])], ("bad",), 1)  # paints (1, 0)
    assert layers.entries == [] and layers.cover() is None


def test_augmentations_map_back():
    x = dsl.as_grid([[3, 3, 5], [0, 3, 7]])
    for aug in dsl.compose.AUGMENTATIONS:
        assert np.array_equal(dsl.restore(dsl.augment(x, aug), aug, x), x)
    assert np.array_equal(dsl.under(x, "colours", (("flip_v", ()),)), dsl.flip_v(x))
    assert np.array_equal(dsl.under(x, "transpose", (("flip_v", ()),)), dsl.flip_h(x))
    assert dsl.augment(x, "colours").tolist() == [[0, 0, 2], [1, 0, 3]]  # by frequency


def test_colour_renaming_solves_a_task_whose_demos_use_other_colours():
    from arcsearch.search.enumerate import SearchResult, augmented

    def pair(a, b):  # the most frequent colour becomes the other one's, and vice versa
        x = g([[a, a, a], [a, b, a], [a, a, a]])
        return x, g([[b, b, b], [b, a, b], [b, b, b]])

    pairs = [pair(1, 2), pair(3, 4)]
    res = SearchResult()
    augmented(res, "colours", pairs, [pair(5, 6)[0]], 60, 2_000, 2, 400, ("shape",))
    assert res.found and res.found[0].steps[0][0] == "under"
    assert res.found[0].test_preds[0].tolist() == pair(5, 6)[1].tolist()
