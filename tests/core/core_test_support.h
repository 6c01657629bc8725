// Shared helpers for the core tests: most semantic tests run once per stack kind (own
// and copied), proving that both kinds behave identically.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "slp/slp.hpp"

namespace slp_test {

inline std::string kind_name(const ::testing::TestParamInfo<slp::stack_kind>& info) {
    switch (info.param) {
        case slp::stack_kind::own:
            return "own";
        case slp::stack_kind::copied:
            return "copied";
        case slp::stack_kind::soft:
            return "soft";
    }
    return "?";
}

// Leave the thread's scheduler as a test found it: kill the tasklets it left alive, and
// check that nothing else is runnable and no switch trap is set.
inline void kill_leftovers(std::vector<slp::tasklet>& made) {
    for (auto& t : made) {
        if (t.alive() && !t.is_current()) {
            try {
                t.kill();
            } catch (...) {
            }
        }
    }
    made.clear();
    EXPECT_EQ(slp::getruncount(), 1);
    EXPECT_EQ(slp::switch_trap(0), 0);
}

class Kinds : public ::testing::TestWithParam<slp::stack_kind> {
 protected:
    // A bound tasklet of the kind under test (not set up).
    slp::tasklet make(std::function<void()> fn, std::string name = {}) {
        slp::tasklet t(std::move(fn), slp::tasklet_options{GetParam(), 0, std::move(name)});
        made_.push_back(t);
        return t;
    }
    // A runnable one (Stackless: tasklet(fn)()).
    slp::tasklet go(std::function<void()> fn, std::string name = {}) {
        slp::tasklet t = make(std::move(fn), std::move(name));
        t.setup();
        return t;
    }
    void TearDown() override { kill_leftovers(made_); }

 private:
    std::vector<slp::tasklet> made_;
};

#define SLP_KINDS_SUITE(Suite)                                                                   \
    INSTANTIATE_TEST_SUITE_P(                                                                    \
        , Suite,                                                                                 \
        ::testing::Values(slp::stack_kind::own, slp::stack_kind::copied, slp::stack_kind::soft), \
        slp_test::kind_name)

// A string that records what happened, in order.
struct trace {
    std::vector<std::string> ev;
    void operator()(std::string s) { ev.push_back(std::move(s)); }
};

// An object whose destructor records that it ran (to prove unwinding).
struct sentry {
    int* count;
    explicit sentry(int* c) : count(c) {}
    ~sentry() { ++*count; }
};

}  // namespace slp_test
