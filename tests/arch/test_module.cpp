// Module pointers: slp_ontop calls an `fn` that lives in another shared object, and the
// context it resumes continues with its own module's data (ppc64le: its own r2/TOC),
// whether that context was suspended in slp_jump, in slp_ontop, or is fresh.
#include <gtest/gtest.h>

#include "arch_test_support.h"
#include "slp_test_module.h"

namespace {

using slp_test::test_stack;

// This executable's data, read after every resume through its module pointer.
volatile intptr_t g_own_state = 0x5eed;
constexpr intptr_t kOwnState = 0x5eed;

struct module_run {
    slp_ctx main = nullptr;
    intptr_t fresh_data = 0;    // what the fresh context's entry received
    intptr_t fresh_own = 0;     // this executable's state, read there
    intptr_t resumed_data = 0;  // what the context's pending slp_ontop returned
    intptr_t resumed_own = 0;
};
module_run* g_run = nullptr;

intptr_t as_int(void* p) {
    return reinterpret_cast<intptr_t>(p);
}
void* as_ptr(intptr_t i) {
    return reinterpret_cast<void*>(i);
}

void module_entry(slp_transfer t) {
    g_run->fresh_data = as_int(t.data);
    g_run->fresh_own = g_own_state;
    // Resume main through fn; main's pending slp_ontop then returns fn's result.
    slp_transfer back = slp_ontop(t.from, as_ptr(10), slp_test_module_ontop);
    g_run->resumed_data = as_int(back.data);
    g_run->resumed_own = g_own_state;
    slp_jump(back.from, nullptr);
    ADD_FAILURE() << "finished context resumed";
}

TEST(ModulePointer, ontop_with_fn_in_another_shared_object_keeps_each_contexts_module) {
    test_stack stack;
    module_run run;
    g_run = &run;
    slp_ctx ctx = slp_make(stack.top(), stack.span().size(), module_entry);
    // A fresh context: fn runs on its stack, entry receives fn's result.
    slp_transfer t = slp_ontop(ctx, as_ptr(1), slp_test_module_ontop);
    // main, suspended in slp_ontop, resumed through fn.
    EXPECT_EQ(as_int(t.data), 10 + SLP_TEST_MODULE_STATE);
    EXPECT_EQ(g_own_state, kOwnState);
    // The context, suspended in slp_ontop, resumed through fn.
    t = slp_ontop(t.from, as_ptr(100), slp_test_module_ontop);
    EXPECT_EQ(g_own_state, kOwnState);
    EXPECT_EQ(run.fresh_data, 1 + SLP_TEST_MODULE_STATE);
    EXPECT_EQ(run.fresh_own, kOwnState);
    EXPECT_EQ(run.resumed_data, 100 + SLP_TEST_MODULE_STATE);
    EXPECT_EQ(run.resumed_own, kOwnState);
}

}  // namespace
