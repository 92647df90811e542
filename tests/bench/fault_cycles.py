# SPDX-License-Identifier: MIT
# gdb script for tests/bench/fault-cycles.sh: single-steps one whole fault cycle of /bin/vmbench's
# fault figure twice, once for a second-stage fault and once for a host fault, and prints the
# instructions of each cycle per function, as a markdown table.
#
# A cycle runs from one pmap_map_page() entry to the next at the faulting range's addresses: the
# rest of the fault, the way back to the guest (or user code), the faulting loop, and the way in
# to the next fault. Both loops step 4 KiB and touch each page once, so the two cycles differ by
# exactly what a second-stage fault adds. QEMU's gdb stub steps with interrupts masked: the
# counts repeat run to run. A cycle that also splits a buddy block shows that as extra
# instructions in buddy_alloc and list_push on both sides.
#
# Environment: FAULT_PORT (gdb stub port), FAULT_ELF (kernel symbols, for nm).
import bisect
import collections
import os
import subprocess

import gdb

GUEST_RAM = 0x40000000  # tests/user/vmbench.c: RAM, FAULT_PAGES pages of it
GUEST_END = GUEST_RAM + 2048 * 4096
SKIP = 100  # faults let go before the traced one: well inside each loop
LIMIT = 100000  # steps: a cycle longer than this is not a fault cycle


def symbols(elf):
    syms = []
    out = subprocess.run(["nm", "-n", elf], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2]))
    return syms


def function_of(syms, addrs, pc):
    if pc < 0xFFFF800000000000:
        return "(guest or user code)"
    i = bisect.bisect_right(addrs, pc) - 1
    return syms[i][1] if i >= 0 else "?"


def cycle(entry, cond):
    for b in gdb.breakpoints() or []:
        b.delete()
    b = gdb.Breakpoint("*%#x" % entry, type=gdb.BP_HARDWARE_BREAKPOINT)
    b.condition = cond
    b.ignore_count = SKIP
    gdb.execute("continue", to_string=True)
    b.delete()
    pcs = []
    while len(pcs) < LIMIT:
        pc = int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFFFFFFFFFF
        if pcs and pc == entry:
            return pcs
        pcs.append(pc)
        gdb.execute("stepi", to_string=True)
    raise gdb.GdbError("no second fault within %d steps" % LIMIT)


def main():
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    gdb.execute("set architecture i386:x86-64")
    gdb.execute("target remote 127.0.0.1:%s" % os.environ["FAULT_PORT"])
    syms = symbols(os.environ["FAULT_ELF"])
    addrs = [a for a, _ in syms]
    entry = int(gdb.parse_and_eval("(long)&pmap_map_page")) & 0xFFFFFFFFFFFFFFFF
    guest = cycle(entry, "$rsi >= %#x && $rsi < %#x" % (GUEST_RAM, GUEST_END))
    host = cycle(entry, "$rsi < %#x || $rsi >= 0x100000000" % GUEST_RAM)
    counts = [collections.Counter(function_of(syms, addrs, pc) for pc in c)
              for c in (guest, host)]
    names = sorted(set(counts[0]) | set(counts[1]),
                   key=lambda n: (-(counts[0][n] - counts[1][n]), -counts[0][n], n))
    print("| function | second-stage cycle | host cycle | difference |")
    print("|---|---:|---:|---:|")
    for n in names:
        g, h = counts[0][n], counts[1][n]
        print("| %s | %d | %d | %+d |" % (n, g, h, g - h))
    print("| total | %d | %d | %+d |" % (len(guest), len(host), len(guest) - len(host)))
    gdb.execute("kill")


main()
