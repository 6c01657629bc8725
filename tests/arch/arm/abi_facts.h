// The 32-bit arm (AAPCS, VFP) facts of the conformance suite: see slp_test::abi_facts.
#pragma once

// ctl[0] FPSCR travels whole, cumulative flags and NZCV included. Compared: RMode 22-23,
// FZ 24, DN 25. The trap enables (8-12, 15) are set by the values but read as zero on
// VFPv3 cores without trapping (QEMU's among them), so they are not compared.
inline constexpr slp_test::abi_facts abi{
    .gprs = 8,
    .fprs = 8,
    .vrs = 0,
    .ctls = 1,
    .ctl_mask = {0x03c00000u},
    // [0]: round down; [1]: round up, FZ, DN; [2]: round down, DN.
    .ctl_value = {{0x00801f00u}, {0x03409f00u}, {0x02800300u}},
    .entry_sp_bias = 0,
    .entry_align = 8,
};
