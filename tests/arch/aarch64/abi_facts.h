// The aarch64 (AAPCS64) facts of the conformance suite: see slp_test::abi_facts.
#pragma once

// ctl[0] FPCR travels whole. Compared: RMode 22-23, FZ 24, DN 25, AHP 26. The trap
// enables (IOE..IXE 8-12, IDE 15) are set by the values but read as zero on cores
// without trapping FP (QEMU's among them), so they are not compared.
inline constexpr slp_test::abi_facts abi{
    .gprs = 11,
    .fprs = 8,
    .vrs = 0,
    .ctls = 1,
    .ctl_mask = {0x07c00000u},
    // [0]: round up; [1]: round down, FZ, AHP; [2]: round up, DN, AHP.
    .ctl_value = {{0x00401f00u}, {0x05809f00u}, {0x06400300u}},
    .entry_sp_bias = 0,
    .entry_align = 16,
};
