// test_bti_negative.cpp — BTI is really enforced in the aarch64-bti run, and the slp
// routines work under it (built only with SLP_BTI, run under qemu-aarch64 -cpu max).
//
// The negative control (bti_no_landing_pad.S) is a second guarded shared library.
// If an indirect call to its function without a landing pad does not trap, the guard
// is off and the passing suite would prove nothing about the landing pads of slp_arch.
// Each probe runs in a forked child, so a trap costs the child only.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>

#include "slp_arch.h"

extern "C" {
int slp_bti_probe_without_pad(void);
int slp_bti_probe_with_pad(void);
slp_transfer slp_bti_ontop_identity(slp_transfer t);
void slp_bti_entry_bounce(slp_transfer t);
}

namespace {

// Called through volatile pointers, so the compiler emits `blr` (an indirect call,
// BTYPE 0b10) and cannot turn it into a direct `bl`.
int (*volatile probe_without_pad)(void) = slp_bti_probe_without_pad;
int (*volatile probe_with_pad)(void) = slp_bti_probe_with_pad;
slp_ctx (*volatile make_ptr)(void*, size_t, slp_entry_fn) = slp_make;
slp_transfer (*volatile jump_ptr)(slp_ctx, void*) = slp_jump;
slp_transfer (*volatile ontop_ptr)(slp_ctx, void*, slp_transfer (*)(slp_transfer)) = slp_ontop;
int (*volatile switch_ptr)(slp_save_fn, slp_restore_fn, void*) = slp_switch;

// Runs body in a forked child, which exits with body's result; returns the wait status.
int run_in_child(int (*body)()) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        _exit(body());
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return status;
}

alignas(16) unsigned char stack_a[32768];
alignas(16) unsigned char stack_b[32768];

// Each step returns a distinct exit code, so a failure names the step that broke.
int guarded_round_trip() {
    // slp_make and slp_jump entered by blr; the trampoline enters a guarded entry by blr.
    slp_ctx ctx = make_ptr(stack_a + sizeof stack_a, sizeof stack_a, slp_bti_entry_bounce);
    int cookie = 0;
    slp_transfer t = jump_ptr(ctx, &cookie);
    if (t.data != &cookie) return 10;
    // slp_ontop into a fresh context; its fn (guarded, `bti c`) is entered by `br x16`.
    ctx = make_ptr(stack_b + sizeof stack_b, sizeof stack_b, slp_bti_entry_bounce);
    t = ontop_ptr(ctx, &cookie, slp_bti_ontop_identity);
    if (t.data != &cookie) return 11;
    // slp_switch entered by blr; it calls save and restore by blr.
    const int rc = switch_ptr([](void*, void*) -> intptr_t { return 0; }, [](void*) {}, nullptr);
    if (rc != 0) return 12;
    return 0;
}

TEST(Aarch64Bti, indirect_call_without_landing_pad_dies_with_sigill) {
    const int status = run_in_child([] { return probe_without_pad() == 42 ? 3 : 4; });
    ASSERT_TRUE(WIFSIGNALED(status))
        << "the call returned (exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1)
        << "): BTI is not enforced on the guarded test library";
    EXPECT_EQ(WTERMSIG(status), SIGILL);
}

TEST(Aarch64Bti, indirect_call_with_landing_pad_runs) {
    const int status = run_in_child([] { return probe_with_pad() == 7 ? 0 : 1; });
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Aarch64Bti, indirect_calls_into_slp_routines_work_when_guarded) {
    const int status = run_in_child(guarded_round_trip);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
