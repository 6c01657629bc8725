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
    return info.param == slp::stack_kind::own ? "own" : "copied";
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
    // Leave the thread's scheduler as we found it: kill what the test left alive.
    void TearDown() override {
        for (auto& t : made_) {
            if (t.alive() && !t.is_current()) {
                try {
                    t.kill();
                } catch (...) {
                }
            }
        }
        made_.clear();
        EXPECT_EQ(slp::getruncount(), 1);
        EXPECT_EQ(slp::switch_trap(0), 0);
    }

 private:
    std::vector<slp::tasklet> made_;
};

#define SLP_KINDS_SUITE(Suite)                                                                 \
    INSTANTIATE_TEST_SUITE_P(, Suite,                                                          \
                             ::testing::Values(slp::stack_kind::own, slp::stack_kind::copied), \
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
