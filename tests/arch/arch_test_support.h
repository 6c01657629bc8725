// arch_test_support.h — what the conformance tests share: per-CPU facts (which
// sentinel slots exist, which control bits to compare), a guarded test stack, and a
// minimal copy-stack driver over slp_switch, and a watchdog.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sentinels.h"
#include "slp_arch.h"

namespace slp_test {

// What the suite needs to know of a CPU: how many slots of slp_test_regs its helper
// fills, which bits of each control word must travel with a context (not sticky status
// flags, which ordinary code may set), test values for them, and the entry alignment.
// Each CPU's values are in tests/arch/<cpu>/abi_facts.h.
struct abi_facts {
    int gprs;
    int fprs;
    int vrs;
    int ctls;
    uint32_t ctl_mask[SLP_TEST_CTLS];
    // Three valid settings of the control words, none the default, each setting a
    // trap-enable bit where the CPU keeps one: [0] and [1] differ in the rounding mode
    // and in other bits; [2] has [0]'s rounding mode and differs from it in other bits,
    // so a port that skips a reload by comparing only the rounding mode is caught.
    uint32_t ctl_value[3][SLP_TEST_CTLS];
    // sp at a function's first instruction, plus this, is a multiple of entry_align.
    uintptr_t entry_sp_bias;
    uintptr_t entry_align;
};

#include "abi_facts.h"  // tests/arch/<cpu>/: this CPU's `abi`

static_assert(offsetof(slp_test_regs, fpr) == SLP_TEST_GPRS * sizeof(void*));
static_assert(offsetof(slp_test_regs, ctl) == SLP_TEST_GPRS * sizeof(void*) + 144);
static_assert(offsetof(slp_test_regs, vr) == SLP_TEST_GPRS * sizeof(void*) + 160);
static_assert(abi.gprs <= SLP_TEST_GPRS && abi.fprs <= SLP_TEST_FPRS && abi.vrs <= SLP_TEST_VRS &&
              abi.ctls <= SLP_TEST_CTLS);

// Sentinels that differ per slot and per seed, so a register restored from the wrong
// slot or the wrong context is caught.
inline slp_test_regs make_sentinels(uint64_t seed, int ctl_variant) {
    slp_test_regs r{};
    auto pattern = [seed](int i) {
        return 0x5a5a000000000000ull ^ (seed * 0x9e3779b97f4a7c15ull) ^
               (static_cast<uint64_t>(i) * 0x0101010101010101ull);
    };
    for (int i = 0; i < SLP_TEST_GPRS; ++i)
        r.gpr[i] = static_cast<uintptr_t>(pattern(i) | 1u);  // odd: never an aligned pointer
    for (int i = 0; i < SLP_TEST_FPRS; ++i) r.fpr[i] = pattern(i) ^ 0x3ff0000000000000ull;
    for (int i = 0; i < SLP_TEST_VRS; ++i) {
        r.vr[i][0] = pattern(i + 32) ^ 0x00000000ffff0000ull;
        r.vr[i][1] = pattern(i + 64) ^ 0xc3c3c3c300000000ull;
    }
    for (int i = 0; i < SLP_TEST_CTLS; ++i) r.ctl[i] = abi.ctl_value[ctl_variant][i];
    return r;
}

// Describes every mismatch between what was loaded and what came back; empty if none.
inline std::string diff_regs(const slp_test_regs& in, const slp_test_regs& out) {
    std::string d;
    char buf[160];
    for (int i = 0; i < abi.gprs; ++i) {
        if (in.gpr[i] != out.gpr[i]) {
            std::snprintf(buf, sizeof buf, "gpr[%d] %#llx != %#llx; ", i,
                          static_cast<unsigned long long>(in.gpr[i]),
                          static_cast<unsigned long long>(out.gpr[i]));
            d += buf;
        }
    }
    for (int i = 0; i < abi.fprs; ++i) {
        if (in.fpr[i] != out.fpr[i]) {
            std::snprintf(buf, sizeof buf, "fpr[%d] %#llx != %#llx; ", i,
                          static_cast<unsigned long long>(in.fpr[i]),
                          static_cast<unsigned long long>(out.fpr[i]));
            d += buf;
        }
    }
    for (int i = 0; i < abi.vrs; ++i) {
        for (int h = 0; h < 2; ++h) {
            if (in.vr[i][h] != out.vr[i][h]) {
                std::snprintf(buf, sizeof buf, "vr[%d][%d] %#llx != %#llx; ", i, h,
                              static_cast<unsigned long long>(in.vr[i][h]),
                              static_cast<unsigned long long>(out.vr[i][h]));
                d += buf;
            }
        }
    }
    for (int i = 0; i < abi.ctls; ++i) {
        if ((in.ctl[i] & abi.ctl_mask[i]) != (out.ctl[i] & abi.ctl_mask[i])) {
            std::snprintf(buf, sizeof buf, "ctl[%d] %#x != %#x; ", i, in.ctl[i], out.ctl[i]);
            d += buf;
        }
    }
    return d;
}

// An mmap'd stack with a PROT_NONE guard page below it, unmapped on destruction.
class test_stack {
 public:
    explicit test_stack(std::size_t size = 256 * 1024) : size_(size) {
        page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        void* p = mmap(nullptr, size_ + page_, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap of a test stack failed");
        mprotect(p, page_, PROT_NONE);
        base_ = static_cast<std::byte*>(p);
    }
    ~test_stack() { munmap(base_, size_ + page_); }
    test_stack(const test_stack&) = delete;
    test_stack& operator=(const test_stack&) = delete;

    std::span<std::byte> span() const { return {base_ + page_, size_}; }
    std::byte* top() const { return base_ + page_ + size_; }
    bool contains(const void* p) const {
        auto* b = static_cast<const std::byte*>(p);
        return b >= base_ + page_ && b < top();
    }

 private:
    std::size_t size_;
    std::size_t page_;
    std::byte* base_;
};

// A minimal copy-stack driver (PyPy stacklet style, whole-slice copies): every context
// runs on the thread's own stack below `base`; a suspended one keeps its slice
// [sp, base) in a heap buffer. It exists to exercise slp_switch, not to be fast.
class copy_stacks {
 public:
    struct context {
        std::vector<char> saved;
        char* sp = nullptr;
        bool started = false;
        void (*body)(copy_stacks&, context&, void*) = nullptr;
        void* arg = nullptr;
    };

    // base: an address above every frame that will ever be switched, typically
    // __builtin_frame_address(0) of a noinline function that does all the switching.
    // The copy_stacks object itself must live above base (in a caller's frame): what
    // lies below is overwritten by every switch.
    void set_base(void* base) { base_ = static_cast<char*>(base); }

    context& main() { return main_; }
    context* current() const { return current_; }

    // Create a context that will run body(*this, ctx, arg) when first switched to;
    // body must end by switching to another context and is never resumed after that.
    context& create(void (*body)(copy_stacks&, context&, void*), void* arg) {
        contexts_.push_back(std::make_unique<context>());
        context& c = *contexts_.back();
        c.body = body;
        c.arg = arg;
        return c;
    }

    // Suspend the current context and resume (or start) `to`.
    void switch_to(context& to) {
        target_ = &to;
        slp_switch(&save, &restore, this);
        // Here either a resumed context continues, or a new one starts in this frame.
        context* self = current_;
        if (!self->started) {
            self->started = true;
            self->body(*this, *self, self->arg);
            __builtin_trap();  // body must not return
        }
    }

    std::size_t switches() const { return switches_; }
    std::size_t restores() const { return restores_; }

 private:
    static intptr_t save(void* sp, void* arg) {
        auto* self = static_cast<copy_stacks*>(arg);
        char* s = static_cast<char*>(sp);
        context* from = self->current_;
        from->sp = s;
        from->saved.assign(s, self->base_);
        context* to = self->target_;
        self->current_ = to;
        ++self->switches_;
        if (!to->started && to != &self->main_) return 0;  // start on the current stack
        return to->sp - s;
    }
    // Not a leaf and no tail call: restore keeps its return address and registers in the
    // frame slp_switch gave it while the copy runs, so a port whose save() sp lets the
    // slice cover that area (the caller's-frame rule of slp_arch.h) returns into garbage.
    static void restore(void* arg) {
        auto* self = static_cast<copy_stacks*>(arg);
        context* to = self->current_;
        if (to->sp != nullptr && !to->saved.empty())
            std::memcpy(to->sp, to->saved.data(), to->saved.size());
        ++self->restores_;
    }

    char* base_ = nullptr;
    context main_{{}, nullptr, true, nullptr, nullptr};
    context* current_ = &main_;
    context* target_ = nullptr;
    std::size_t switches_ = 0;
    std::size_t restores_ = 0;
    std::vector<std::unique_ptr<context>> contexts_;
};

// Ends the process (exit status 3, with a message) unless destroyed within `limit`.
// A broken port need not crash: a lost register can turn a loop's bound into garbage
// and spin forever; under a watchdog the test fails in bounded time instead.
class watchdog {
 public:
    watchdog(const char* what, std::chrono::seconds limit)
        : thread_([this, what, limit] {
              std::unique_lock<std::mutex> lock(mutex_);
              if (!done_cv_.wait_for(lock, limit, [this] { return done_; })) {
                  std::fprintf(stderr, "watchdog: %s did not finish within %lld s\n", what,
                               static_cast<long long>(limit.count()));
                  std::fflush(stderr);
                  std::_Exit(3);
              }
          }) {}
    ~watchdog() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            done_ = true;
        }
        done_cv_.notify_one();
        thread_.join();
    }
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

 private:
    std::mutex mutex_;
    std::condition_variable done_cv_;
    bool done_ = false;
    std::thread thread_;
};

}  // namespace slp_test
