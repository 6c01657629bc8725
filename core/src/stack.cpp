// stack.cpp — mmap'd stacks with a guard page, and the per-thread pool.
#include "slp/stack.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <new>
#include <utility>

#include "sanitizer.hpp"

namespace slp {

std::size_t page_size() noexcept {
    static const std::size_t ps = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return ps;
}

namespace {
std::size_t round_up(std::size_t n, std::size_t to) {
    return (n + to - 1) / to * to;
}
}  // namespace

stack::stack(std::size_t size) {
    const std::size_t ps = page_size();
    const std::size_t usable = round_up(size == 0 ? default_stack_size : size, ps);
    const std::size_t total = usable + ps;
    // Reserve only: MAP_NORESERVE, and pages are committed when first touched.
    void* m = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    map_ = static_cast<std::byte*>(m);
    if (mprotect(map_, ps, PROT_NONE) != 0) {
        munmap(m, total);
        map_ = nullptr;
        throw std::bad_alloc();
    }
    lo_ = map_ + ps;
    hi_ = map_ + total;
    valgrind_id_ = detail::san::stack_register(lo_, hi_);
}

stack::stack(stack&& o) noexcept
    : map_(std::exchange(o.map_, nullptr)),
      lo_(std::exchange(o.lo_, nullptr)),
      hi_(std::exchange(o.hi_, nullptr)),
      valgrind_id_(std::exchange(o.valgrind_id_, 0)) {}

stack& stack::operator=(stack&& o) noexcept {
    if (this != &o) {
        release();
        map_ = std::exchange(o.map_, nullptr);
        lo_ = std::exchange(o.lo_, nullptr);
        hi_ = std::exchange(o.hi_, nullptr);
        valgrind_id_ = std::exchange(o.valgrind_id_, 0);
    }
    return *this;
}

stack::~stack() {
    release();
}

void stack::release() noexcept {
    if (map_ == nullptr) return;
    detail::san::stack_deregister(valgrind_id_);
    detail::san::unpoison(lo_, size());
    munmap(map_, static_cast<std::size_t>(hi_ - map_));
    map_ = lo_ = hi_ = nullptr;
}

stack stack_pool::acquire(std::size_t size) {
    const std::size_t want = round_up(size == 0 ? default_stack_size : size, page_size());
    for (std::size_t i = free_.size(); i-- > 0;) {
        if (free_[i].size() == want) {
            stack s = std::move(free_[i]);
            free_[i] = std::move(free_.back());
            free_.pop_back();
            // The last user's frames may have left ASan poison behind.
            detail::san::unpoison(s.lo(), s.size());
            return s;
        }
    }
    return stack(want);
}

void stack_pool::release(stack&& s) noexcept {
    if (!s) return;
    if (free_.size() < max_cached_) {
        try {
            free_.push_back(std::move(s));
            return;
        } catch (...) {
        }
    }
    stack dropped(std::move(s));
}

}  // namespace slp
