// The ppc64le (ELFv2) facts of the conformance suite: see slp_test::abi_facts.
#pragma once

// ctl[0] FPSCR bits 32..63 as a 32-bit value. The control byte travels and is compared:
//        RN 0-1, NI 2, trap enables XE 3, ZE 4, UE 5, OE 6, VE 7 (in value bits; the
//        ISA numbers them 63..56). The exception bits above are status.
// ctl[1] VRSAVE, whole.
// ctl[2] CR: only CR2-CR4 (bits 12-23 of mfcr's value) are callee-saved.
inline constexpr slp_test::abi_facts abi{
    .gprs = 18,
    .fprs = 18,
    .vrs = 12,
    .ctls = 3,
    .ctl_mask = {0xffu, 0xffffffffu, 0x00fff000u},
    // [0]: round toward zero, zero-divide trap on; [1]: round up, NI, overflow trap on;
    // [2]: round toward zero, NI, underflow trap on. (No inexact trap: nearly every FP
    // operation would raise it.)
    .ctl_value = {{0x11u, 0x12345678u, 0x00a5c000u},
                  {0x46u, 0x9abcdef0u, 0x005a3000u},
                  {0x25u, 0x0f0f0f0fu, 0x00f0f000u}},
    .entry_sp_bias = 0,
    .entry_align = 16,
};
