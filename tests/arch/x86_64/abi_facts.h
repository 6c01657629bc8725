// The x86_64 (System V) facts of the conformance suite: see slp_test::abi_facts.
#pragma once

// ctl[0] MXCSR: flags 0-5 are status; DAZ 6, exception masks 7-12 (a clear mask bit
// enables the trap), rounding 13-14, FTZ 15 are control.
// ctl[1] x87 control word: masks 0-5, precision 8-9, rounding 10-11 (bit 6 reads as 1
// on some CPUs). Both registers travel whole.
inline constexpr slp_test::abi_facts abi{
    .gprs = 6,
    .fprs = 0,
    .vrs = 0,
    .ctls = 2,
    .ctl_mask = {0xffc0u, 0x0f3fu},
    // [0]: round down, divide-by-zero trap on; x87 round to zero, zero-divide trap on.
    // [1]: round up, FTZ+DAZ, overflow trap on; x87 nearest, 53-bit, overflow trap on.
    // [2]: [0]'s rounding modes, invalid trap on and FTZ; x87 53-bit precision.
    .ctl_value = {{0x3d80u, 0x0c7bu}, {0xdbc0u, 0x0277u}, {0xbd00u, 0x0e7bu}},
    .entry_sp_bias = 8,
    .entry_align = 16,
};
