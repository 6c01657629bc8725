"""Whether the suite runs under emulation: SLP_EMULATED=1, set by the test command's
entries that run it on other CPUs under qemu-user (python/cmake/SlpPythonCpuTests.cmake).
There pure Python runs about ten times slower, so the CPU-bound loops run fewer rounds
(each test says how many) and the timeouts of child processes are longer."""
import os
import struct

EMULATED = os.environ.get("SLP_EMULATED") == "1"
# How much longer a child process may take.
SLOWDOWN = 10 if EMULATED else 1


def rounds(native, emulated):
    """The number of rounds of a CPU-bound loop: `native`, or `emulated` under qemu."""
    return emulated if EMULATED else native


def address_space(limit):
    """The environment that bounds a child's address space to `limit` (qemu's size syntax:
    "4G") under qemu-user, which ignores a guest's RLIMIT_AS (it would bound qemu itself):
    without it, a child that counts on its own RLIMIT_AS could eat the host's memory. Empty
    natively, where RLIMIT_AS works."""
    if not EMULATED or struct.calcsize("P") == 4:
        return {}  # (a 32-bit CPU's address space is bounded already: 4 GiB under qemu)
    return {"QEMU_RESERVED_VA": limit}
