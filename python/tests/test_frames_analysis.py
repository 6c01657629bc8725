"""The static stack analysis of bytecode behind capture (the innermost frame's depth)
and behind the loader's checks (depths and slot types)."""
import dis
import importlib
import inspect
import opcode
import os
import sys
import types

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "frames_test"))
import frames_support  # noqa: E402

T = frames_support.load()
import frames_subjects as S  # noqa: E402

REQ_ITER = 1 << 1
REQ_SEQ_INDEX = 1 << 13  # 3.15: FOR_ITER's index (or NULL) above what it iterates
# Opcodes no restorable frame runs: module and class bodies; on 3.13 also what only the
# eval loop runs, instrumented twins and the compiler's pseudo-instructions.
UNSUPPORTED = {"IMPORT_STAR", "SETUP_ANNOTATIONS", "STORE_NAME", "DELETE_NAME", "LOAD_NAME",
               "CACHE"}
if sys.version_info >= (3, 13):
    UNSUPPORTED |= {"LOAD_LOCALS", "LOAD_FROM_DICT_OR_GLOBALS",
                    "LOAD_FROM_DICT_OR_DEREF", "INTERPRETER_EXIT", "ENTER_EXECUTOR",
                    "EXIT_INIT_CHECK", "RESERVED"}
    UNSUPPORTED |= {n for n, op in opcode.opmap.items()
                    if n.startswith("INSTRUMENTED_") or op >= 256}
    UNSUPPORTED |= {"TRACE_RECORD"}  # 3.15: the trace recorder's, never in a code object


@pytest.fixture
def stack_kind():
    """Overrides the stackless suite's autouse fixture (no tasklets here)."""
    yield None


def test_inline_cache_sizes_match_cpython():
    caches = opcode._inline_cache_entries  # 3.11: a list by opcode; 3.13: a dict by name
    for op in range(256):
        name = opcode.opname[op]
        want = caches[op] if isinstance(caches, list) else caches.get(name, 0)
        assert T.cache_units(op) == want, name


@pytest.mark.parametrize("name", sorted(opcode.opmap))
def test_run_time_stack_effect_matches_the_compiler(name):
    op = opcode.opmap[name]
    for arg in (0, 1, 2, 3, 5, 8, 0x104):
        for jump in (False, True):
            mine = T.stack_effect(op, arg, jump)
            if name in UNSUPPORTED:
                assert mine is None
                continue
            assert mine is not None, name
            pops, pushes = mine
            compiler = dis.stack_effect(op, arg if op >= opcode.HAVE_ARGUMENT else None,
                                        jump=jump)
            if name == "PRECALL":  # the compiler pops the arguments here, CALL does at run time
                assert (pops, pushes) == (0, 0) and compiler == -arg
            elif name == "RETURN_GENERATOR" and sys.version_info[:2] == (3, 11):
                # In the generator's frame, the first send pushes None (which POP_TOP pops);
                # 3.11's compiler counts neither.
                assert (pops, pushes) == (0, 1) and compiler == 0
            elif name == "CALL" and sys.version_info[:2] == (3, 11):
                assert pushes - pops == compiler - arg
            else:
                assert pushes - pops == compiler, (name, arg, jump)


def all_code(module):
    todo = [v.__code__ for v in vars(module).values() if isinstance(v, types.FunctionType)]
    for cls in (v for v in vars(module).values() if isinstance(v, type)):
        todo += [v.__code__ for v in vars(cls).values() if isinstance(v, types.FunctionType)]
    seen = []
    while todo:
        c = todo.pop()
        seen.append(c)
        todo += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    return seen


@pytest.mark.parametrize("modname", ["os", "json.decoder", "argparse", "collections", "inspect",
                                     "dis", "pickle", "typing", "ast", "email.message",
                                     "tokenize", "difflib", "dataclasses", "enum", "functools",
                                     "unittest.case", "asyncio.base_events", "frames_subjects"])
def test_analysis_accepts_every_function_of_the_stdlib(modname):
    # Generators, coroutines and async generators included (they pickle by value), except
    # on 3.15, whose generator opcodes the analysis does not read yet.
    codes = all_code(importlib.import_module(modname))
    generator = (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
                 if sys.version_info >= (3, 15) else 0)
    plain = [c for c in codes if c.co_flags & inspect.CO_OPTIMIZED and not c.co_flags & generator]
    assert plain
    for code in plain:
        depths = dict(T.analyze(code))
        assert depths[0] == 0
        assert max(depths.values()) <= code.co_stacksize
        # Every call site the analysis reached has its operands on the stack.
        for ins in dis.get_instructions(code):
            if ins.opname == "CALL" and ins.offset // 2 in depths:
                assert depths[ins.offset // 2] >= ins.arg + 2


def test_generator_code_is_analysed():
    async def agen(it):
        async with it as x:
            async for y in x:
                yield y
        yield [z async for z in it]

    def gen(it):
        x = yield 1
        yield from it
        return x

    for f in (gen, agen):
        depths = dict(T.analyze(f))
        assert depths[0] == 0
        assert max(depths.values()) <= f.__code__.co_stacksize
        # Each yield has what it yields on the stack.
        for ins in dis.get_instructions(f):
            if ins.opname == "YIELD_VALUE":
                assert depths[ins.offset // 2] >= 1


# Call shapes around a capture: capture() cross-checks the analysed depth against where
# its arguments sit on the caller's value stack (SystemError on a mismatch), and the
# snapshot must rebuild.
class Obj:
    def method(self, *a, **k):
        return a


def shapes():
    base = shapes
    d = {"a": 1}
    o = Obj()
    out = []
    out.append([1, 2, T.capture(base)])
    out.append({**d, "k": T.capture(base)})
    out.append(o.method(1, T.capture(base), k=2))
    out.append(o.method(*[T.capture(base)], **d))
    out.append(1 if not d else T.capture(base))
    with open(os.devnull) as f:
        out.append((f, T.capture(base))[1])
    try:
        raise KeyError(1)
    except KeyError as e:
        out.append((e, T.capture(base))[1])
    finally:
        out.append(T.capture(base))
    for i in range(2):
        for j in enumerate("ab"):
            out.append((i, j, T.capture(base))[2])
    out.append([T.capture(base) for _ in range(1)][0])
    out.append((lambda: T.capture(base))())
    out.append(f"{1}{T.capture(base)!r:>3}")
    out.append(len(str(T.capture(base))) + 1)
    out.append({1, 2, len([T.capture(base)])})
    out.append(T.capture(*[base]))  # suspended in CALL_FUNCTION_EX
    return out


def test_analysed_depth_matches_the_interpreter_in_many_call_shapes():
    snaps = []

    def find(x):
        if type(x) is tuple and x[:1] == ("slp.frames",):
            snaps.append(x)
        elif isinstance(x, (list, tuple)):
            for y in x:
                find(y)
        elif isinstance(x, dict):
            for y in x.values():
                find(y)

    find(shapes())
    assert len(snaps) >= 12
    for snap in snaps:
        T.rebuild(snap)


def test_iterator_slots_are_required_to_be_iterators():
    S.SNAPS.clear()
    S.loops()
    import pickle
    snap = pickle.loads(S.SNAPS[0])
    site = snap[5][0][3]
    reqs = T.requirements(S.loops, site)
    if sys.version_info >= (3, 15):
        # Each loop's iterator (or the list it runs over) has its index, or NULL, above it:
        # the loader checks the pair.
        assert sum(1 for r in reqs if r & REQ_SEQ_INDEX) == 4
        assert [i for i, r in enumerate(reqs) if r & REQ_SEQ_INDEX] == [1, 3, 5, 7]
    else:
        assert sum(1 for r in reqs if r & REQ_ITER) == 4  # range, enumerate, dict keys, list
