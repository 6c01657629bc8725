// slp/payload.hpp — the untyped value a channel moves, and the message around it.
//
// The core channel is untyped so that one implementation serves C++ (slp::channel<T>)
// and the Python binding (which moves PyObject*). A payload is a small type-erased slot:
// values of up to inline_size bytes whose move constructor cannot throw live inside it,
// anything else in one heap box. Payloads live in tasklet objects, never on a tasklet's
// stack: a copied-stack tasklet's stack is not at its address while it is suspended, and
// a receiver may run on another thread.
#pragma once

#include <cstddef>
#include <exception>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace slp {

class payload {
 public:
    // Small: every tasklet carries one payload (a blocked soft tasklet costs at most 256
    // bytes); pointers, numbers and pairs of them fit.
    static constexpr std::size_t inline_size = 16;
    static constexpr std::size_t inline_align = 8;

    payload() noexcept = default;
    payload(payload&& other) noexcept { steal(other); }
    payload& operator=(payload&& other) noexcept {
        if (this != &other) {
            reset();
            steal(other);
        }
        return *this;
    }
    payload(const payload&) = delete;
    payload& operator=(const payload&) = delete;
    ~payload() { reset(); }

    // Store a T built from args, replacing what was there. Throws what T's constructor
    // (or, for a boxed T, operator new) throws; the payload is then empty.
    template <class T, class... Args>
    [[gnu::always_inline]] T& emplace(Args&&... args) {
        reset();
        return fill<T>(std::forward<Args>(args)...);
    }
    // The same when the caller knows that the payload is empty (!has_value()): no test.
    template <class T, class... Args>
    [[gnu::always_inline]] T& fill(Args&&... args) {
        using U = std::decay_t<T>;
        if constexpr (fits_inline<U>) {
            U* p = ::new (static_cast<void*>(buf_)) U(std::forward<Args>(args)...);
            ops_ = &table<U>;
            return *p;
        } else {
            U* p = new U(std::forward<Args>(args)...);
            ::new (static_cast<void*>(buf_)) U*(p);
            ops_ = &table<U>;
            return *p;
        }
    }

    // Whether a T lives inside the payload (no allocation; moving it cannot throw).
    template <class T>
    static constexpr bool stores_inline() noexcept {
        return fits_inline<std::decay_t<T>>;
    }

    // True if it holds a value of type T (exactly, after decay).
    template <class T>
    bool holds() const noexcept {
        return ops_ == &table<std::decay_t<T>>;
    }
    bool has_value() const noexcept { return ops_ != nullptr; }

    // Move the value out and leave the payload empty.
    // Throws std::logic_error if it is empty or holds another type.
    template <class T>
    [[gnu::always_inline]] T take() {
        if (!holds<T>()) throw std::logic_error("slp::payload::take: empty or of another type");
        return take_held<T>();
    }
    // The same when the caller knows that it holds a T (holds<T>()): no test.
    template <class T>
    [[gnu::always_inline]] T take_held() {
        using U = std::decay_t<T>;
        U* p = ptr<U>();
        U out(std::move(*p));
        // The type is known here: destroy directly, not through the table (no indirect
        // call on a channel's hot path).
        if constexpr (fits_inline<U>)
            p->~U();
        else
            delete p;
        ops_ = nullptr;
        return out;
    }

    // Destroy the value, if any.
    void reset() noexcept {
        if (ops_ != nullptr) {
            ops_->destroy(buf_);
            ops_ = nullptr;
        }
    }

    friend void swap(payload& a, payload& b) noexcept {
        payload tmp(std::move(a));
        a = std::move(b);
        b = std::move(tmp);
    }

 private:
    struct ops {
        void (*move)(void* dst, void* src) noexcept;  // construct dst from src, destroy src
        void (*destroy)(void* p) noexcept;
    };
    template <class U>
    static constexpr bool fits_inline =
        sizeof(U) <= inline_size &&
        alignof(U) <= inline_align&& std::is_nothrow_move_constructible_v<U>;
    template <class U>
    static void move_inline(void* dst, void* src) noexcept {
        U* s = std::launder(static_cast<U*>(src));
        ::new (dst) U(std::move(*s));
        s->~U();
    }
    template <class U>
    static void destroy_inline(void* p) noexcept {
        std::launder(static_cast<U*>(p))->~U();
    }
    template <class U>
    static void move_boxed(void* dst, void* src) noexcept {
        ::new (dst) U*(*std::launder(static_cast<U**>(src)));
    }
    template <class U>
    static void destroy_boxed(void* p) noexcept {
        delete *std::launder(static_cast<U**>(p));
    }
    template <class U>
    static constexpr ops table = fits_inline<U> ? ops{&move_inline<U>, &destroy_inline<U>}
                                                : ops{&move_boxed<U>, &destroy_boxed<U>};

    template <class T>
    T* ptr() noexcept {
        using U = std::decay_t<T>;
        if constexpr (fits_inline<U>)
            return std::launder(reinterpret_cast<U*>(buf_));
        else
            return *std::launder(reinterpret_cast<U**>(buf_));
    }
    void steal(payload& other) noexcept {
        if (other.ops_ != nullptr) {
            other.ops_->move(buf_, other.buf_);
            ops_ = other.ops_;
            other.ops_ = nullptr;
        }
    }

    alignas(inline_align) std::byte buf_[inline_size];
    const ops* ops_ = nullptr;
};

// What a channel action carries, and what a tasklet finds when it resumes: a value, or
// an exception to raise (Stackless's "bomb"). A message with an error always raises.
struct message {
    payload value;
    std::exception_ptr error;

    // Inline tests first: an empty message (what a channel action leaves almost always)
    // costs no call (assigning an exception_ptr is one).
    [[gnu::always_inline]] void clear() noexcept {
        if (value.has_value()) [[unlikely]]
            value.reset();
        if (error) [[unlikely]]
            error = nullptr;
    }
};

}  // namespace slp
