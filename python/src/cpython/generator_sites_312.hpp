// generator_sites_312.hpp — where a generator's, coroutine's or async generator's frame
// waits, for every version since 3.12 (the version's frame_layout.hpp includes this after
// its own definitions: it reads last_unit()).
#pragma once

namespace slpy::cpy::frame {

// Code unit a suspended or not yet started generator's frame waits at: instr_ptr is on
// the instruction after its YIELD_VALUE, or after the RETURN_GENERATOR that made it
// (neither has cache units).
inline int generator_site(_PyInterpreterFrame* f) noexcept {
    return last_unit(f) - 1;
}
// The generator state of a frame waiting at `op` (bytecode.hpp's suspends()) with
// argument `arg`: YIELD_VALUE's is 1 inside `yield from` and `await`.
inline int8_t generator_state(int op, int arg) noexcept {
    if (op == RETURN_GENERATOR) return FRAME_CREATED;
    return arg == 1 ? FRAME_SUSPENDED_YIELD_FROM : FRAME_SUSPENDED;
}

}  // namespace slpy::cpy::frame
