// Contexts on several threads at once: each thread's contexts see that thread's errno
// and thread_local storage, because a context runs on the thread that resumes it.
#include <gtest/gtest.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "arch_test_support.h"

namespace {

using slp_test::test_stack;

thread_local int tls_value = 0;

struct per_thread {
    int id = 0;
    bool tls_ok = true;
    bool errno_ok = true;
    bool same_tls_address = true;
    long rounds = 0;
};

void tls_context(slp_transfer t) {
    auto* pt = static_cast<per_thread*>(t.data);
    int* main_tls = &tls_value;
    for (;;) {
        // The context sees the thread's TLS, and writes made by main on this thread.
        if (tls_value != pt->id * 1000 + static_cast<int>(pt->rounds)) pt->tls_ok = false;
        if (&tls_value != main_tls) pt->same_tls_address = false;
        errno = pt->id + 100;
        t = slp_jump(t.from, nullptr);
    }
}

void thread_body(per_thread* pt) {
    test_stack stack(64 * 1024);
    tls_value = 0;
    slp_ctx c = slp_make(stack.top(), 64 * 1024, tls_context);
    for (pt->rounds = 0; pt->rounds < 20000; ++pt->rounds) {
        tls_value = pt->id * 1000 + static_cast<int>(pt->rounds);
        errno = 0;
        slp_transfer t = slp_jump(c, pt);
        c = t.from;
        // errno written in the context is this thread's errno.
        if (errno != pt->id + 100) pt->errno_ok = false;
    }
}

TEST(Threads, contexts_see_their_threads_errno_and_tls) {
    std::vector<per_thread> pts(4);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
        pts[i].id = i + 1;
        threads.emplace_back(thread_body, &pts[i]);
    }
    for (auto& th : threads) th.join();
    for (auto& pt : pts) {
        EXPECT_TRUE(pt.tls_ok) << "thread " << pt.id;
        EXPECT_TRUE(pt.errno_ok) << "thread " << pt.id;
        EXPECT_TRUE(pt.same_tls_address) << "thread " << pt.id;
        EXPECT_EQ(pt.rounds, 20000);
    }
}

}  // namespace
