// C++ exceptions inside contexts: thrown and caught in one frame, and crossing frames;
// the unwinder must find handlers on the context's stack and never walk past its entry.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "arch_test_support.h"

namespace {

using slp_test::test_stack;

struct result {
    std::string caught;
    int destructors = 0;
};
result* g_r = nullptr;

struct counted {
    ~counted() { ++g_r->destructors; }
};

void throw_and_catch_here(slp_transfer t) {
    try {
        throw std::runtime_error("local");
    } catch (const std::exception& e) {
        g_r->caught = e.what();
    }
    slp_jump(t.from, nullptr);
}

TEST(Exceptions, exception_thrown_and_caught_inside_a_context) {
    test_stack stack;
    result r;
    g_r = &r;
    slp_jump(slp_make(stack.top(), stack.span().size(), throw_and_catch_here), nullptr);
    EXPECT_EQ(r.caught, "local");
}

__attribute__((noinline)) void thrower(int depth) {
    counted c;
    if (depth == 0) throw std::runtime_error("deep");
    thrower(depth - 1);
}

void throw_across_frames(slp_transfer t) {
    try {
        thrower(10);
    } catch (const std::runtime_error& e) {
        g_r->caught = e.what();
    }
    slp_jump(t.from, nullptr);
}

TEST(Exceptions, exception_crosses_frames_inside_a_context_running_destructors) {
    test_stack stack;
    result r;
    g_r = &r;
    slp_jump(slp_make(stack.top(), stack.span().size(), throw_across_frames), nullptr);
    EXPECT_EQ(r.caught, "deep");
    EXPECT_EQ(r.destructors, 11);
}

// An exception in flight in one context while another context throws and catches its
// own: each unwinder works on its own stack.
void inner_thrower(slp_transfer t) {
    try {
        throw std::logic_error("inner");
    } catch (const std::logic_error&) {
        slp_jump(t.from, nullptr);  // switch away from inside a catch block
    }
    slp_jump(t.from, nullptr);
}

void outer_catcher(slp_transfer t) {
    try {
        try {
            throw std::runtime_error("outer");
        } catch (const std::runtime_error&) {
            // Run another context that throws and catches while this catch is active.
            test_stack* s = static_cast<test_stack*>(t.data);
            slp_transfer r = slp_jump(slp_make(s->top(), s->span().size(), inner_thrower), nullptr);
            slp_jump(r.from, nullptr);  // let it leave its catch block
            throw;                      // rethrow ours after the other context's catch
        }
    } catch (const std::runtime_error& e) {
        g_r->caught = e.what();
    }
    slp_jump(t.from, nullptr);
}

TEST(Exceptions, catch_blocks_in_two_contexts_interleave) {
    test_stack a, b;
    result r;
    g_r = &r;
    slp_jump(slp_make(a.top(), a.span().size(), outer_catcher), &b);
    EXPECT_EQ(r.caught, "outer");
}

}  // namespace
