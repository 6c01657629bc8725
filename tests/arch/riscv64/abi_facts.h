// The riscv64 (LP64D) facts of the conformance suite: see slp_test::abi_facts.
#pragma once

// ctl[0] frm, the rounding mode (0 RNE, 1 RTZ, 2 RDN, 3 RUP, 4 RMM) and the only FP
// control RISC-V has: there are no trap enables, and fflags are status, left alone.
// So [2] cannot differ from [0] in anything but the rounding mode.
inline constexpr slp_test::abi_facts abi{
    .gprs = 12,
    .fprs = 12,
    .vrs = 0,
    .ctls = 1,
    .ctl_mask = {0x7u},
    .ctl_value = {{0x1u}, {0x3u}, {0x1u}},
    .entry_sp_bias = 0,
    .entry_align = 16,
};
