// arch_test_support.h — what the conformance tests share: per-CPU facts (which
// sentinel slots exist, which control bits to compare), a guarded test stack, and a
// minimal copy-stack driver over slp_switch.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "sentinels.h"
#include "slp_arch.h"

namespace slp_test {

// How many slots of slp_test_regs this CPU's helper fills, and which bits of each
// control word are control (not sticky status flags that ordinary code may set).
struct abi_facts {
    int gprs;
    int fprs;
    int ctls;
    uint32_t ctl_mask[2];
    // Two distinct, valid settings of each control word, other than the default.
    uint32_t ctl_a[2];
    uint32_t ctl_b[2];
    // sp at a function's first instruction, plus this, is a multiple of entry_align.
    uintptr_t entry_sp_bias;
    uintptr_t entry_align;
};

#if defined(__x86_64__)
// MXCSR: rounding control 13-14, exception masks 7-12, FTZ 15, DAZ 6; flags 0-5 ignored.
// x87 CW: rounding 10-11, precision 8-9, masks 0-5 (bit 6 reads as 1 on some CPUs).
inline constexpr abi_facts abi{6, 0, 2, {0xffc0u, 0x0f3fu}, {0x7f80u, 0x0c7fu}, {0x3f80u, 0x027fu},
                               8, 16};
#elif defined(__aarch64__)
// FPCR: RMode 22-23, FZ 24, DN 25, AHP 26.
inline constexpr abi_facts abi{11, 8, 1, {0x07c00000u, 0}, {0x00c00000u, 0}, {0x03400000u, 0},
                               0,  16};
#elif defined(__arm__)
// FPSCR: RMode 22-23, FZ 24, DN 25; NZCV, QC and the cumulative flags are status.
inline constexpr abi_facts abi{8, 8, 1, {0x03c00000u, 0}, {0x00c00000u, 0}, {0x03400000u, 0}, 0, 8};
#elif defined(__riscv) && __riscv_xlen == 64
// frm: 0 RNE, 1 RTZ, 2 RDN, 3 RUP, 4 RMM.
inline constexpr abi_facts abi{12, 12, 1, {0x7u, 0}, {0x1u, 0}, {0x3u, 0}, 0, 16};
#else
#error "no conformance facts for this CPU"
#endif

// Sentinels that differ per slot and per seed, so a register restored from the wrong
// slot or the wrong context is caught.
inline slp_test_regs make_sentinels(uint64_t seed, bool variant_b) {
    slp_test_regs r{};
    for (int i = 0; i < 12; ++i) {
        uint64_t v = 0x5a5a000000000000ull ^ (seed * 0x9e3779b97f4a7c15ull) ^
                     (static_cast<uint64_t>(i) * 0x0101010101010101ull);
        r.gpr[i] = static_cast<uintptr_t>(v | 1u);  // odd: never a valid aligned pointer
        r.fpr[i] = v ^ 0x3ff0000000000000ull;
    }
    for (int i = 0; i < 2; ++i) r.ctl[i] = variant_b ? abi.ctl_b[i] : abi.ctl_a[i];
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
    static void restore(void* arg) {
        auto* self = static_cast<copy_stacks*>(arg);
        context* to = self->current_;
        if (to->sp != nullptr && !to->saved.empty())
            std::memcpy(to->sp, to->saved.data(), to->saved.size());
    }

    char* base_ = nullptr;
    context main_{{}, nullptr, true, nullptr, nullptr};
    context* current_ = &main_;
    context* target_ = nullptr;
    std::size_t switches_ = 0;
    std::vector<std::unique_ptr<context>> contexts_;
};

}  // namespace slp_test
