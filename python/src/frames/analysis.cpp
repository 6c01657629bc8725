// analysis.cpp — abstract interpretation of bytecode (bytecode.hpp's facts of the running
// version): a forward pass for stack
// depths (as CPython's compiler does in stackdepth(), but with run-time effects), and a
// backward fixed point for the type requirements of each live stack slot.
#include "analysis.hpp"

#include <opcode.h>

#include <cstdio>

#include "bytecode.hpp"

namespace slpy::frames {

namespace {

std::string at(const char* what, int index, int op) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s at code unit %d (%s)", what, index, opname(op));
    return buf;
}

// One varint of the exception table (Objects/exception_handling_notes.txt, 3.11 to 3.13): six
// value bits per byte, bit 6 = more bytes follow, bit 7 marks the start of an entry.
bool varint(const uint8_t* p, int len, int& pos, int& out) {
    if (pos >= len) return false;
    int b = p[pos++];
    long v = b & 63;
    while (b & 64) {
        if (pos >= len || v > (1L << 24)) return false;
        b = p[pos++];
        v = (v << 6) | (b & 63);
    }
    out = static_cast<int>(v);
    return true;
}

}  // namespace

bool CodeAnalysis::run(const uint8_t* code_bytes, int units, const uint8_t* exctable, int exclen,
                       int stacksize, int nlocals, std::string& error) {
    units_ = units;
    stacksize_ = stacksize;
    nlocals_ = nlocals;
    if (units <= 0 || stacksize < 0 || nlocals < 0) {
        error = "empty code";
        return false;
    }
    if (!decode(code_bytes, error) || !parse_exception_table(exctable, exclen, error) ||
        !forward(error))
        return false;
    liveness();
    backward();
    return true;
}

bool CodeAnalysis::decode(const uint8_t* code, std::string& error) {
    const auto n = static_cast<size_t>(units_);
    op_.assign(n, -1);
    arg_.assign(n, 0);
    next_.assign(n, -1);
    uint32_t ext = 0;
    for (int i = 0; i < units_;) {
        const int op = code[2 * i];
        const uint32_t arg = (ext << 8) | code[2 * i + 1];
        if (arg > 0x7FFFFFFFu) {
            error = at("oversized argument", i, op);
            return false;
        }
        ext = op == EXTENDED_ARG ? arg : 0;
        const int next = i + 1 + cache_units(op);
        if (next > units_) {
            error = at("instruction runs past the end of the code", i, op);
            return false;
        }
        op_[static_cast<size_t>(i)] = static_cast<int16_t>(op);
        arg_[static_cast<size_t>(i)] = static_cast<int32_t>(arg);
        next_[static_cast<size_t>(i)] = next;
        i = next;
    }
    return true;
}

bool CodeAnalysis::parse_exception_table(const uint8_t* table, int len, std::string& error) {
    handlers_.clear();
    int pos = 0;
    while (pos < len) {
        Handler h{};
        int size = 0, dl = 0;
        if (!varint(table, len, pos, h.start) || !varint(table, len, pos, size) ||
            !varint(table, len, pos, h.target) || !varint(table, len, pos, dl)) {
            error = "malformed exception table";
            return false;
        }
        h.end = h.start + size;
        h.level = dl >> 1;
        h.lasti = (dl & 1) != 0;
        if (h.end > units_ || h.target >= units_ || h.level > stacksize_) {
            error = "exception table entry outside the code";
            return false;
        }
        handlers_.push_back(h);
    }
    return true;
}

bool CodeAnalysis::handler_for(int index, int& target, int& level, bool& lasti) const noexcept {
    // As ceval's get_exception_handler: entries are sorted and do not overlap.
    for (const Handler& h : handlers_) {
        if (h.start > index) break;
        if (index < h.end) {
            target = h.target;
            level = h.level;
            lasti = h.lasti;
            return true;
        }
    }
    return false;
}

bool CodeAnalysis::forward(std::string& error) {
    depth_.assign(static_cast<size_t>(units_), -1);
    std::vector<int> work;
    auto reach = [&](int from, int target, int depth) {
        if (target < 0 || target >= units_ || op_[static_cast<size_t>(target)] < 0) {
            error =
                at("jump to the middle of an instruction", from, op_[static_cast<size_t>(from)]);
            return false;
        }
        if (depth < 0 || depth > stacksize_) {
            error = at("stack depth out of range", from, op_[static_cast<size_t>(from)]);
            return false;
        }
        int& d = depth_[static_cast<size_t>(target)];
        if (d == -1) {
            d = depth;
            work.push_back(target);
        } else if (d != depth) {
            error = at("inconsistent stack depth", target, op_[static_cast<size_t>(target)]);
            return false;
        }
        return true;
    };
    if (!reach(0, 0, 0)) return false;
    while (!work.empty()) {
        const int i = work.back();
        work.pop_back();
        const auto ui = static_cast<size_t>(i);
        const int op = op_[ui], arg = arg_[ui], d = depth_[ui];
        const Flow fl = flow(op);
        if (fl == Flow::kUnsupported) {
            error = at("unsupported instruction", i, op);
            return false;
        }
        OperandReq reqs[kMaxOperandReqs];
        const int nreq = operand_requirements(op, arg, reqs);
        for (int k = 0; k < nreq; ++k)
            if (reqs[k].peek < 1 || reqs[k].peek > d) {
                error = at("stack underflow", i, op);
                return false;
            }
        if ((op == SWAP || op == COPY) && (arg < 1 || arg > d)) {
            error = at("stack underflow", i, op);
            return false;
        }
        int target = 0, level = 0;
        bool lasti = false;
        if (handler_for(i, target, level, lasti) && (level <= d || !handlers_may_outreach())) {
            if (level > d) {
                error = at("handler deeper than the stack", i, op);
                return false;
            }
            if (!reach(i, target, level + (lasti ? 1 : 0) + 1)) return false;
        }
        for (int edge = 0; edge < 2; ++edge) {
            const bool jump = edge == 1;
            int to = next_[ui];
            if (jump) {
                if (fl == Flow::kJumpForward || fl == Flow::kGotoForward)
                    to = next_[ui] + arg;
                else if (fl == Flow::kJumpBackward || fl == Flow::kGotoBackward)
                    to = next_[ui] - arg;
                else
                    continue;
            } else if (fl == Flow::kStop || fl == Flow::kGotoForward || fl == Flow::kGotoBackward) {
                continue;
            }
            const StackEffect e = stack_effect(op, arg, jump);
            if (e.pops > d) {
                error = at("stack underflow", i, op);
                return false;
            }
            if (!reach(i, to, d - e.pops + e.pushes)) return false;
        }
        // A fall-through off the end (RETURN_VALUE missing) is caught by reach().
    }
    return true;
}

// Backward fixed point: the locals each instruction's paths read without a NULL check
// before they set them (through jumps and exception handlers).
void CodeAnalysis::liveness() {
    words_ = (static_cast<size_t>(nlocals_) + 63) / 64;
    live_.assign(static_cast<size_t>(units_) * words_, 0);
    std::vector<uint64_t> tmp(words_);
    auto valid = [&](int local) { return local >= 0 && local < nlocals_; };
    auto bit = [](int local) { return uint64_t{1} << (local % 64); };
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = units_ - 1; i >= 0; --i) {
            const auto ui = static_cast<size_t>(i);
            if (op_[ui] < 0 || depth_[ui] < 0) continue;
            const int op = op_[ui], arg = arg_[ui];
            const Flow fl = flow(op);
            std::fill(tmp.begin(), tmp.end(), 0);
            auto merge = [&](int from) {
                for (size_t w = 0; w < words_; ++w)
                    tmp[w] |= live_[static_cast<size_t>(from) * words_ + w];
            };
            const int next = next_[ui];
            if (fl != Flow::kStop && fl != Flow::kGotoForward && fl != Flow::kGotoBackward &&
                next < units_)
                merge(next);
            if (fl != Flow::kStop && fl != Flow::kNext) {
                const bool fwd = fl == Flow::kJumpForward || fl == Flow::kGotoForward;
                const int to = fwd ? next + arg : next - arg;
                if (to >= 0 && to < units_) merge(to);
            }
            int target = 0, level = 0;
            bool lasti = false;
            if (handler_for(i, target, level, lasti)) merge(target);
            const LocalAccess a = local_access(op, arg);
            auto reads = [&] {
                for (int k = 0; k < a.nreads; ++k)
                    if (valid(a.reads[k]))
                        tmp[static_cast<size_t>(a.reads[k] / 64)] |= bit(a.reads[k]);
            };
            auto writes = [&] {
                for (int k = 0; k < a.nwrites; ++k)
                    if (valid(a.writes[k]))
                        tmp[static_cast<size_t>(a.writes[k] / 64)] &= ~bit(a.writes[k]);
            };
            if (a.writes_first) {
                reads();
                writes();
            } else {
                writes();
                reads();
            }
            for (size_t w = 0; w < words_; ++w) {
                uint64_t& l = live_[ui * words_ + w];
                if (l != tmp[w]) {
                    l = tmp[w];
                    changed = true;
                }
            }
        }
    }
}

bool CodeAnalysis::live(int index, int local) const noexcept {
    if (index < 0 || index >= units_ || local < 0 || local >= nlocals_) return false;
    const uint64_t w = live_[static_cast<size_t>(index) * words_ + static_cast<size_t>(local / 64)];
    return (w >> (local % 64)) & 1;
}

// Is `local` read unchecked on some path right after the instruction at `index` (it
// falls through; its exception handler counts too)?
bool CodeAnalysis::live_after(int index, int local) const noexcept {
    int target = 0, level = 0;
    bool lasti = false;
    return live(next_[static_cast<size_t>(index)], local) ||
           (handler_for(index, target, level, lasti) && live(target, local));
}

bool CodeAnalysis::local_required(int index, int local) const noexcept {
    return depth_at(index) >= 0 && live(index, local);
}

void CodeAnalysis::backward() {
    const auto ss = static_cast<size_t>(stacksize_);
    req_.assign(static_cast<size_t>(units_) * ss, 0);
    std::vector<uint16_t> tmp(ss + 1);
    auto req = [&](int index, int pos) -> uint16_t {
        return req_[static_cast<size_t>(index) * ss + static_cast<size_t>(pos)];
    };
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = units_ - 1; i >= 0; --i) {
            const auto ui = static_cast<size_t>(i);
            const int d = op_[ui] < 0 ? -1 : depth_[ui];
            if (d < 0) continue;
            const int op = op_[ui], arg = arg_[ui];
            const Flow fl = flow(op);
            std::fill(tmp.begin(), tmp.end(), 0);
            // Popped operands must not be NULL (Py_DECREF, calls), except the one slot
            // CPython tests for NULL itself.
            const StackEffect fall = stack_effect(op, arg, false);
            const StackEffect jmp = stack_effect(op, arg, true);
            const int pops = fall.pops > jmp.pops ? fall.pops : jmp.pops;
            // A store of the top into a local may store NULL (3.13's inlined comprehensions
            // save and restore their variable so) if nothing reads the local unchecked
            // before setting it again.
            const LocalAccess acc = local_access(op, arg);
            const bool nullable_store =
                pops == 1 && acc.nwrites == 1 && acc.nreads == 0 && !live_after(i, acc.writes[0]);
            for (int p = d - pops; p < d; ++p)
                if (!nullable_operand(op, arg, d - p) && !nullable_store)
                    tmp[static_cast<size_t>(p)] |= kReqNonNull;
            OperandReq reqs[kMaxOperandReqs];
            const int nreq = operand_requirements(op, arg, reqs);
            for (int k = 0; k < nreq; ++k)
                tmp[static_cast<size_t>(d - reqs[k].peek)] |= reqs[k].mask;
            // What successors require of the slots that survive into them.
            const int next = next_[ui];
            if (op == SWAP) {
                for (int p = 0; p < d; ++p) {
                    const int src = p == d - 1 ? d - arg : (p == d - arg ? d - 1 : p);
                    tmp[static_cast<size_t>(p)] |= req(next, src);
                }
            } else if (op == COPY) {
                for (int p = 0; p < d; ++p) tmp[static_cast<size_t>(p)] |= req(next, p);
                tmp[static_cast<size_t>(d - arg)] |= req(next, d);
            } else if (op == PUSH_EXC_INFO) {
                // The exception moves up one slot; the previous one is pushed under it.
                for (int p = 0; p < d - 1; ++p) tmp[static_cast<size_t>(p)] |= req(next, p);
                tmp[static_cast<size_t>(d - 1)] |= req(next, d);
            } else {
                const bool falls =
                    fl != Flow::kStop && fl != Flow::kGotoForward && fl != Flow::kGotoBackward;
                const bool jumps = fl != Flow::kStop && fl != Flow::kNext;
                if (falls)
                    for (int p = 0; p < d - fall.pops; ++p)
                        tmp[static_cast<size_t>(p)] |= req(next, p);
                if (jumps) {
                    const bool fwd = fl == Flow::kJumpForward || fl == Flow::kGotoForward;
                    const int to = fwd ? next + arg : next - arg;
                    for (int p = 0; p < d - jmp.pops; ++p)
                        tmp[static_cast<size_t>(p)] |= req(to, p);
                }
            }
            int target = 0, level = 0;
            bool lasti = false;
            if (handler_for(i, target, level, lasti))
                for (int p = 0; p < level; ++p) tmp[static_cast<size_t>(p)] |= req(target, p);
            for (int p = 0; p < d; ++p) {
                uint16_t& r = req_[ui * ss + static_cast<size_t>(p)];
                if (r != tmp[static_cast<size_t>(p)]) {
                    r = tmp[static_cast<size_t>(p)];
                    changed = true;
                }
            }
        }
    }
}

int CodeAnalysis::depth_at(int index) const noexcept {
    if (index < 0 || index >= units_) return -1;
    const auto ui = static_cast<size_t>(index);
    return op_[ui] < 0 ? -1 : depth_[ui];
}

namespace {

template <class Is>
bool site_at(const CodeAnalysis& an, int index, Is is, CallSite& out) noexcept {
    const int d = an.depth_at(index);
    if (d < 0) return false;
    const int op = an.op_at(index), arg = an.arg_at(index);
    if (!is(op)) return false;
    const StackEffect e = stack_effect(op, arg, false);
    if (e.pops > d || e.pushes < 1) return false;
    // The result is the last value pushed; what the instruction pushes before it is on
    // the stack while the call runs (BEFORE_WITH's __exit__ in the manager's slot).
    out = CallSite{index, op, arg, d, d - e.pops + e.pushes - 1};
    return true;
}

}  // namespace

bool CodeAnalysis::call_site(int index, CallSite& out) const noexcept {
    return site_at(
        *this, index, [](int op) { return calls_python(op) || calls_c(op) || calls_through_c(op); },
        out);
}

bool CodeAnalysis::suspension_site(int index, CallSite& out) const noexcept {
    return site_at(*this, index, suspends, out);
}

bool CodeAnalysis::iteration_site(int index, CallSite& out) const noexcept {
    return site_at(*this, index, drives, out);
}

bool CodeAnalysis::preemption_point(int index, CallSite& out) const noexcept {
    const int d = depth_at(index);
    if (d < 0) return false;
    const int op = op_at(index), arg = arg_at(index);
    const int next = next_[static_cast<size_t>(index)];
    int resume = -1;
    switch (after_breaker(op)) {
        case AfterBreaker::kNone:
            return false;
        case AfterBreaker::kNext:
            resume = next;
            break;
        case AfterBreaker::kJump:
            resume = next - arg;
            break;
        case AfterBreaker::kJumpOfNext: {
            if (next >= units_ || op_[static_cast<size_t>(next)] < 0) return false;
            const int jop = op_[static_cast<size_t>(next)];
            if (flow(jop) != Flow::kJumpBackward) return false;
            resume = next_[static_cast<size_t>(next)] - arg_[static_cast<size_t>(next)];
            break;
        }
    }
    const int kept = depth_at(resume);
    if (kept < 0) return false;
    // An exception thrown into the frame there unwinds from this instruction with the
    // stack as it is at `resume`.
    int target = 0, level = 0;
    bool lasti = false;
    if (handler_for(index, target, level, lasti) && level > kept) return false;
    out = CallSite{index, op, arg, d, kept, resume};
    return true;
}

uint16_t CodeAnalysis::requirement(int index, int pos) const noexcept {
    const int d = depth_at(index);
    if (d < 0 || pos < 0 || pos >= d) return kReqNone;
    return req_[static_cast<size_t>(index) * static_cast<size_t>(stacksize_) +
                static_cast<size_t>(pos)];
}

uint16_t CodeAnalysis::requirement(const CallSite& site, int pos) const noexcept {
    int target = 0, level = 0;
    bool lasti = false;
    const bool handled = handler_for(site.index, target, level, lasti) && pos < level;
    if (site.preempted())
        return requirement(site.resume, pos) | (handled ? requirement(target, pos) : 0);
    const StackEffect e = stack_effect(site.op, site.arg, false);
    if (pos < site.depth_before - e.pops) return requirement(site.index, pos);
    // A value the instruction pushed before its call: what follows it requires, or its
    // exception handler (which keeps the slots below its level).
    uint16_t r = kReqNonNull;
    const int next = next_[static_cast<size_t>(site.index)];
    if (pos < depth_at(next)) r |= requirement(next, pos);
    if (handled) r |= requirement(target, pos);
    return r;
}

bool CodeAnalysis::writes_local(int local) const noexcept {
    for (int i = 0; i < units_; ++i) {
        if (depth_at(i) < 0) continue;
        const LocalAccess a = local_access(op_at(i), arg_at(i));
        for (int k = 0; k < a.nwrites; ++k)
            if (a.writes[k] == local) return true;
    }
    return false;
}

bool CodeAnalysis::local_required(const CallSite& site, int local) const noexcept {
    if (!site.preempted()) return local_required(site.index, local);
    int target = 0, level = 0;
    bool lasti = false;
    return local_required(site.resume, local) ||
           (handler_for(site.index, target, level, lasti) && local_required(target, local));
}

}  // namespace slpy::frames
