// guard.cpp — a stack overflow ends the process with a message, never silently.
//
// The SIGSEGV handler runs on an alternate signal stack (the faulting stack is full).
// It asks: is the faulting address inside the guard page of the stack the running
// tasklet of this thread runs on? If so it writes one line naming the tasklet and the
// stack and aborts; otherwise it hands the signal to the handler installed before it.
// Only async-signal-safe things happen here: reads of plain fields and write(2).
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "internal.hpp"

namespace slp {
namespace {

struct sigaction g_previous;
std::once_flag g_installed;

struct line {
    char buf[512];
    std::size_t n = 0;
    void put(const char* s) {
        while (*s != '\0' && n < sizeof buf - 1) buf[n++] = *s++;
    }
    void hex(std::uintptr_t v) {
        char tmp[2 + 16];
        int i = 0;
        do {
            tmp[i++] = "0123456789abcdef"[v & 15];
            v >>= 4;
        } while (v != 0);
        put("0x");
        while (i > 0 && n < sizeof buf - 1) buf[n++] = tmp[--i];
    }
    void dec(std::uint64_t v) {
        char tmp[24];
        int i = 0;
        do {
            tmp[i++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (i > 0 && n < sizeof buf - 1) buf[n++] = tmp[--i];
    }
};

void chain(int sig, siginfo_t* info, void* uctx) {
    if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
        g_previous.sa_sigaction(sig, info, uctx);
        return;
    }
    if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN &&
        g_previous.sa_handler != nullptr) {
        g_previous.sa_handler(sig);
        return;
    }
    // Default action: reinstall it and return; the fault repeats and kills us.
    signal(sig, SIG_DFL);
}

void on_segv(int sig, siginfo_t* info, void* uctx) {
    detail::scheduler_impl* s = detail::this_scheduler_if_any();
    detail::tasklet_impl* t = s != nullptr ? s->running : nullptr;
    const stack* st = t != nullptr ? detail::stack_of(*s, *t) : nullptr;
    if (st != nullptr && *st) {
        const std::byte* guard_lo = st->guard_lo();
        const std::byte* lo = st->lo();
        const std::byte* hi = st->top();
        auto* addr = static_cast<const std::byte*>(info->si_addr);
        if (addr >= guard_lo && addr < lo) {
            line l;
            l.put("slp: stack overflow in tasklet #");
            l.dec(t->id);
            l.put(" '");
            l.put(t->x != nullptr ? t->x->name_or_empty() : "");
            l.put(t->kind == stack_kind::copied ? "' (shared stack ["
                  : t->kind == stack_kind::soft ? "' (soft runner stack ["
                                                : "' (own stack [");
            l.hex(reinterpret_cast<std::uintptr_t>(lo));
            l.put(", ");
            l.hex(reinterpret_cast<std::uintptr_t>(hi));
            l.put("), guard page at ");
            l.hex(reinterpret_cast<std::uintptr_t>(guard_lo));
            l.put(", fault at ");
            l.hex(reinterpret_cast<std::uintptr_t>(addr));
            l.put("): aborting\n");
            ssize_t ignored = write(2, l.buf, l.n);
            (void)ignored;
            signal(SIGABRT, SIG_DFL);
            abort();
        }
    }
    chain(sig, info, uctx);
}

}  // namespace

void install_overflow_handler() {
    std::call_once(g_installed, [] {
        struct sigaction sa;
        std::memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = &on_segv;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &g_previous);
    });
}

void install_thread_altstack() {
    // One alternate stack per thread, kept for the thread's life (freed by the kernel's
    // view at exit: it is plain heap memory owned by a thread_local).
    struct altstack {
        stack mem{64 * 1024};
        altstack() {
            stack_t ss;
            std::memset(&ss, 0, sizeof ss);
            ss.ss_sp = mem.lo();
            ss.ss_size = mem.size();
            sigaltstack(&ss, nullptr);
        }
        ~altstack() {
            stack_t ss;
            std::memset(&ss, 0, sizeof ss);
            ss.ss_flags = SS_DISABLE;
            sigaltstack(&ss, nullptr);
        }
    };
    stack_t cur;
    if (sigaltstack(nullptr, &cur) == 0 && (cur.ss_flags & SS_DISABLE) == 0) return;
    thread_local altstack alt;
}

std::span<std::byte> running_stack() noexcept {
    detail::scheduler_impl* s = detail::this_scheduler_if_any();
    detail::tasklet_impl* t = s != nullptr ? s->running : nullptr;
    const stack* st = t != nullptr ? detail::stack_of(*s, *t) : nullptr;
    if (st == nullptr || !*st) return {};
    return st->usable();
}

}  // namespace slp
