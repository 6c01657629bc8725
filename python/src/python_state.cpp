// python_state.cpp — save and restore a tasklet's share of the thread state.
#include "python_state.hpp"

#include <cstdlib>
#include <new>

namespace slpy {

python_state::~python_state() {
    // A tasklet whose frames are still alive keeps its chunks (they cannot be freed
    // without running it); an ended one gave them back in discard().
    if (f_.fresh && share_.frame() == nullptr)
        free_data_stack();
    else
        leave_region();
    delete tracers_;
}

bool python_state::init_fresh(_PyErr_StackItem* exc_item, PyObject* context) noexcept {
    // The frame chunk is allocated when the tasklet first runs (restore), so that a
    // tasklet waiting to start costs no chunk.
    free_data_stack();
    share_.reset();
    f_.c_stack_moves = false;  // (known when it starts)
    exc_info_ = exc_item;
    Py_XSETREF(context_, context);
    tracing_ = 0;
    if (tracers_ != nullptr) {
        Py_CLEAR(tracers_->trace_obj);
        Py_CLEAR(tracers_->profile_obj);
        delete tracers_;
        tracers_ = nullptr;
    }
    f_.traced = false;
    f_.fresh = true;
    return true;
}

void python_state::save_rare(PyThreadState* ts) noexcept {
    tracing_ = ts->tracing;
    ts->tracing = 0;
    if (cpy::any_trace_function(ts)) {
        if (tracers_ == nullptr) tracers_ = new (std::nothrow) tracers;
        if (tracers_ == nullptr)
            Py_FatalError("stackless: no memory to keep a suspended tasklet's trace function");
        tracers_->trace_fn = ts->c_tracefunc;
        tracers_->profile_fn = ts->c_profilefunc;
        tracers_->trace_obj = ts->c_traceobj;  // references move
        tracers_->profile_obj = ts->c_profileobj;
        ts->c_traceobj = ts->c_profileobj = nullptr;
        ts->c_tracefunc = ts->c_profilefunc = nullptr;
    }
    share_.save_rare(ts);
    f_.traced = holds_rare();
    if (c_stack_unwatched_ && f_.c_stack_moves && share_.expose_entries()) f_.exposed = true;
}

void python_state::restore_rare(PyThreadState* ts) noexcept {
    share_.restore_rare(ts);
    ts->tracing = tracing_;
    tracing_ = 0;
    if (tracers_ != nullptr) {  // (otherwise the thread state's are clear: save() left them so)
        ts->c_tracefunc = tracers_->trace_fn;
        ts->c_profilefunc = tracers_->profile_fn;
        ts->c_traceobj = tracers_->trace_obj;  // references move
        ts->c_profileobj = tracers_->profile_obj;
        *tracers_ = {};
    }
    f_.traced = false;
}

int python_state::set_tracer(PyThreadState* ts, bool profile, Py_tracefunc fn, PyObject* obj) {
    if (tracers_ == nullptr) tracers_ = new (std::nothrow) tracers;
    if (tracers_ == nullptr) {
        PyErr_NoMemory();
        return -1;
    }
    tracers& t = *tracers_;
    cpy::retrace_suspended(ts, profile, profile ? t.profile_fn : t.trace_fn,
                           profile ? t.profile_obj : t.trace_obj, fn, obj,
                           [this] { return top_frame(); });
    // The traced way of restore() even when no function is left: a frame that ran traced
    // learns there that it no longer is (thread_share::restore_traced).
    f_.traced = true;
    return 0;
}

void python_state::restore_unusual(PyThreadState* ts) noexcept {
    const bool traced = f_.traced;
    if (traced)  // otherwise the thread state's are clear (save() left them so)
        restore_rare(ts);
    if (f_.away)  // its frames were moved out of its data region
        bring_back();
    if (f_.exposed) {  // its frames are back where they ran: link them to its entry frames
        share_.unexpose();
        f_.exposed = false;
    }
    if (f_.fresh) {
        restore_fresh(ts);
        return;
    }
    share_.restore(ts);
    if (traced) share_.restore_traced(ts);
    ts->datastack_limit = limit_of(datastack_chunk_);
}

void python_state::restore_fresh(PyThreadState* ts) noexcept {
    if (datastack_chunk_ == nullptr) {
        start_data_stack();
        ts->datastack_chunk = datastack_chunk_;
        ts->datastack_top = datastack_top_;
    }
    ts->datastack_limit = limit_of(datastack_chunk_);
    share_.start(ts);
}

void python_state::discard(PyObject** out, int* n_out) noexcept {
    free_data_stack();
    share_.forget();
    f_.exposed = false;
    exc_info_ = nullptr;
    int n = 0;
    if (context_ != nullptr) out[n++] = context_;
    if (tracers_ != nullptr) {
        if (tracers_->trace_obj != nullptr) out[n++] = tracers_->trace_obj;
        if (tracers_->profile_obj != nullptr) out[n++] = tracers_->profile_obj;
        delete tracers_;
        tracers_ = nullptr;
    }
    context_ = nullptr;
    tracing_ = 0;
    f_.traced = false;
    f_.fresh = false;
    *n_out = n;
}

PyObject* python_state::exchange_context(PyObject* ctx) noexcept {
    PyObject* old = context_;
    context_ = ctx;
    return old;
}

int python_state::traverse(visitproc visit, void* arg, PyObject** innermost_sp) const {
    Py_VISIT(context_);
    Py_VISIT(trace_object());
    Py_VISIT(profile_object());
    if (f_.packed) return traverse_packed(visit, arg, innermost_sp);
    innermost_sp = locate(innermost_sp);
    bool innermost = true;
    for (_PyInterpreterFrame* f = share_.frame(); f != nullptr; f = f->previous) {
        if (f->owner != FRAME_OWNED_BY_THREAD) {  // a generator's (it visits its own), an entry's
            innermost = false;
            continue;
        }
        PyCodeObject* code = cpy::frame_code(f);
        Py_VISIT(f->frame_obj);
        Py_VISIT(f->f_locals);
        if (int r = cpy::visit_word(cpy::func_word(f), visit, arg)) return r;
        if (int r = cpy::visit_word(cpy::code_word(f), visit, arg)) return r;
        const int nlocals = code->co_nlocalsplus;
        int depth = cpy::stack_top(f);  // -1 while the frame is in a call into C
        if (depth < 0) {
            depth = nlocals;
            if (innermost && innermost_sp != nullptr) {
                const auto d = innermost_sp - cpy::slots(f);
                if (d >= nlocals && d <= nlocals + code->co_stacksize) depth = static_cast<int>(d);
            }
        }
        for (int i = 0; i < depth; i++)
            if (int r = cpy::visit_word(cpy::slots(f)[i], visit, arg)) return r;
        innermost = false;
    }
    return 0;
}

int python_state::nesting_level() noexcept {
    return slpy::nesting_level(top_frame());
}

int nesting_level(const _PyInterpreterFrame* top) noexcept {
    int n = 0;
    for (const _PyInterpreterFrame* f = top; f != nullptr; f = f->previous)
        if (cpy::enters_eval(f)) ++n;
    return n > 0 ? n - 1 : 0;
}

}  // namespace slpy
