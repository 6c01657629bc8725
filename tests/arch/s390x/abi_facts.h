// The s390x facts of the conformance suite: see slp_test::abi_facts.
#pragma once

// ctl[0] FPC, which travels whole. Compared: the IEEE trap masks (bits 26-31 of the
// value; the ISA numbers them 0-5) and the BFP rounding mode (bits 0-2). The flags and
// the DXC are status.
inline constexpr slp_test::abi_facts abi{
    .gprs = 8,
    .fprs = 8,
    .vrs = 0,
    .ctls = 1,
    .ctl_mask = {0xfc000007u},
    // [0]: round toward zero, zero-divide trap on; [1]: round up, overflow trap on;
    // [2]: round toward zero, underflow trap on. (No inexact trap: nearly every FP
    // operation would raise it.)
    .ctl_value = {{0x40000001u}, {0x20000002u}, {0x10000001u}},
    .entry_sp_bias = 0,
    .entry_align = 8,
};
