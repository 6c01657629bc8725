// reducers.cpp — pickling (and copying) of plain objects that CPython refuses and
// Stackless pickles: modules (by name), dict views (their dict by value), cells (their
// contents), generators, coroutines, async generators and coroutine wrappers (by value:
// generators.cpp); and the class that stands for "the tasklet itself" in a tempval. Registered in
// copyreg's dispatch table at import, as Stackless has them from startup; the rebuilding callables
// are importable (operator, importlib, this module), so a pickle loads wherever `stackless` can be
// imported.
#include "objects.hpp"

namespace slpy {

PyObject* g_tasklet_itself = Py_Ellipsis;  // until the module is initialised

namespace {

const char* const kReducersSource = R"PY(
def _install_reducers():
    import copyreg, importlib, operator, types

    def reduce_module(module):
        return importlib.import_module, (module.__name__,)

    def view_reducer(method):
        def reduce_view(view):
            return operator.methodcaller(method), (dict(view.mapping),)
        return reduce_view

    def reduce_cell(cell):
        try:
            return _cell, (cell.cell_contents,)
        except ValueError:  # empty
            return _cell, ()

    copyreg.pickle(types.ModuleType, reduce_module)
    for method in ("keys", "values", "items"):
        copyreg.pickle(type(getattr({}, method)()), view_reducer(method))
    copyreg.pickle(types.CellType, reduce_cell)
    for kind in (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType):
        copyreg.pickle(kind, _reduce_generator)
    coro = _finished_coroutine()
    copyreg.pickle(type(coro.__await__()), _reduce_coroutine_wrapper)
    coro.close()
    agen = _finished_async_generator()
    for method, reducer in (("asend", _reduce_asend), ("athrow", _reduce_athrow)):
        awaitable = getattr(agen, method)(None)
        copyreg.pickle(type(awaitable), reducer)
        awaitable.close()
    def reduce_traceback(tb):
        return _traceback, (tb.tb_next, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)

    def reduce_frame(frame):
        if not _frame_finished(frame):
            ref = _tasklet_frame_ref(frame)
            if ref is None:
                raise TypeError("cannot pickle a running frame (only finished frames pickle, "
                                "as a record of where they were, and the frames of a "
                                "suspended tasklet pickled with it; a traceback pickles once "
                                "the frames it holds have returned)")
            # (frame_references.cpp: the marks around the tasklet)
            return _tasklet_frame, ((_frame_ref_mark(ref[0]),) + ref + (_frame_ref_mark(None),))
        code = frame.f_code
        back = frame.f_back
        if back is not None and not _frame_finished(back):
            back = None  # the record ends where the running frames begin
        return _frame, (code.co_filename, code.co_name, code.co_qualname, code.co_firstlineno,
                        frame.f_globals.get("__name__"), frame.f_lineno or code.co_firstlineno,
                        back)

    copyreg.pickle(types.TracebackType, reduce_traceback)
    copyreg.pickle(types.FrameType, reduce_frame)


def _cell(*contents):
    """_cell([value]): a new cell holding value (empty without one); rebuilds pickled cells."""
    import types
    return types.CellType(*contents)


def _finished_generator():
    """What a pickled generator that had finished is made of (run to its end)."""
    return
    yield


async def _finished_coroutine():
    """What a pickled coroutine that had finished is made of (run to its end)."""


async def _finished_async_generator():
    """What a pickled async generator that had finished is made of (run to its end)."""
    return
    yield


def _traceback(tb_next, frame, lasti, lineno):
    """A traceback entry (pickled tracebacks). A restored frame's code has no instructions
    of the original: its entry's instruction is unknown (-1)."""
    import types
    if frame.f_code in _frame_record_codes or not 0 <= lasti < len(frame.f_code.co_code):
        lasti = -1
    return types.TracebackType(tb_next, frame, lasti, lineno)


def _frame(filename, name, qualname, firstlineno, module, lineno, back):
    """A finished frame where a pickled one was: in file `filename`, function `name`
    (`qualname`) starting at line `firstlineno`, of module `module`, at line `lineno`,
    called by `back`. Its code is empty: it runs nothing."""
    import sys
    code = compile("", filename, "exec")
    # Its instructions have no source location (location table entries of kind 15), so
    # what reads a line off the frame or its traceback entry takes the recorded one.
    units, table = len(code.co_code) // 2, bytearray()
    while units > 0:
        table.append(0x80 | 15 << 3 | min(units, 8) - 1)
        units -= min(units, 8)
    code = code.replace(co_name=name, co_qualname=qualname, co_firstlineno=firstlineno,
                        co_linetable=bytes(table))
    mod = sys.modules.get(module) if isinstance(module, str) else None
    globals_ = mod.__dict__ if mod is not None else {"__name__": module}
    _frame_record_codes.add(code)
    return _dead_frame(code, globals_, lineno, back)


def _make_frame_record_codes():
    import weakref
    return weakref.WeakSet()


_frame_record_codes = _make_frame_record_codes()  # the codes _frame() made
del _make_frame_record_codes


def _awaitable_stackless_form(reduced):
    """An async generator awaitable's reduce value (copyreg's: (cls, (agen, given, value,
    state))) in Stackless's form: (cls, (agen, given, value), (agen, value, state, given))."""
    maker, (agen, given, value, state) = reduced
    return maker, (agen, given, value), (agen, value, state, given)


class _wrap:
    """Stackless's names for the async generator awaitables' picklers: each class is what
    rebuilds one (its call, which also sets the state) and what reduces one (its __reduce__,
    called on the object, gives Stackless's form; pickle and copy take copyreg's, which
    needs no state setter)."""

    class async_generator_asend:
        def __new__(cls, agen, given, value, state=0):
            aw = _make_asend(agen, given, value)
            _set_awaitable_state(aw, (agen, value, state, given))
            return aw

        def __reduce__(self):
            return _awaitable_stackless_form(_reduce_asend(self))

    class async_generator_athrow:
        def __new__(cls, agen, given, args, state=0):
            aw = _make_athrow(agen, given, args)
            _set_awaitable_state(aw, (agen, args, state, given))
            return aw

        def __reduce__(self):
            return _awaitable_stackless_form(_reduce_athrow(self))


class _frame_ref_mark:
    """Brackets the tasklet of a pickled running frame (frame_references.cpp): reducing it
    names the tasklet the pickler saves next as that frame's (None: no longer). It loads
    as None."""
    __slots__ = ("tasklet",)

    def __init__(self, tasklet):
        self.tasklet = tasklet

    def __reduce__(self):
        _frame_ref_pending(self.tasklet)
        return type(None), ()


class _tasklet_itself:
    """In a tasklet's tempval: the tasklet itself (what schedule() returns by default)."""


_install_reducers()
del _install_reducers
)PY";

}  // namespace

bool install_reducers(PyObject* module) noexcept {
    PyObject* d = PyModule_GetDict(module);
    if (PyDict_GetItemString(d, "__builtins__") == nullptr &&
        PyDict_SetItemString(d, "__builtins__", PyEval_GetBuiltins()) < 0)
        return false;
    PyObject* r = PyRun_String(kReducersSource, Py_file_input, d, d);
    Py_XDECREF(r);
    if (r == nullptr) return false;
    PyObject* itself = PyDict_GetItemString(d, "_tasklet_itself");
    if (itself == nullptr) return false;
    g_tasklet_itself = Py_NewRef(itself);  // kept for good (a re-init leaks the old one)
    return true;
}

}  // namespace slpy
