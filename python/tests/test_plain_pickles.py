"""Plain objects that CPython refuses to pickle and Stackless pickles: modules (by name),
dict views (with their dict, by value) and cells (with their contents). Also what
copy.copy makes of them."""
import copy
import pickle
import xml.sax

import pytest
import stackless


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_module_pickles_by_name(protocol):
    for m in (xml.sax, stackless, pickle):
        assert pickle.loads(pickle.dumps(m, protocol)) is m
    assert copy.copy(stackless) is stackless


@pytest.mark.parametrize("method", ["keys", "values", "items"])
def test_a_dict_view_pickles_with_its_dict(method):
    d = {1: 10, "a": [1, 2]}
    view = getattr(d, method)()
    back = pickle.loads(pickle.dumps(view))
    assert type(back) is type(view)
    assert list(back) == list(view)
    d["b"] = 3  # the copy has a dict of its own
    assert len(back) == 2
    shallow = copy.copy(view)
    assert type(shallow) is type(view) and shallow is not view and list(shallow) == list(view)


def test_a_cell_pickles_with_its_contents():
    def cell_of(obj):
        return (lambda: obj).__closure__[0]
    c = cell_of([1, 2])
    back = pickle.loads(pickle.dumps(c))
    assert back is not c and back.cell_contents == [1, 2]
    assert copy.copy(c).cell_contents is c.cell_contents

    def empty():
        if False:
            x = 1  # noqa: F841 - never bound: the cell stays empty
        return lambda: x  # noqa: F821
    e = empty().__closure__[0]
    with pytest.raises(ValueError):
        pickle.loads(pickle.dumps(e)).cell_contents


def test_a_module_that_cannot_be_imported_fails_to_load_with_a_clear_error():
    import types
    m = types.ModuleType("no_such_module_anywhere")
    data = pickle.dumps(m)
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(data)
