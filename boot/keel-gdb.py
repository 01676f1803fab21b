# keel-gdb.py: gdb commands that know Keel's processes (docs/debugging.md).
#
#   gdb -x boot/keel-gdb.py -ex 'target remote :1234'      (after boot/qemu --gdb)
#
# Every program is linked at the same address (0x400000), so an address names code in every
# process at once: a plain breakpoint at serial's `main` also stops when the console runs the code
# at that address, and gdb's symbols are those of whichever ELF it loaded last. These commands
# tell processes apart by their address space (CR3), read each process's name and pid from its
# own start-up record (struct keel_startinfo, top page of its stack), and walk page tables through
# the kernel's direct map, so they work whichever process is running:
#
#   keel-ps                       every process: name, pid, VSpace root (CR3), threads, state
#   keel-symbols NAME [ELF]       load a program's symbols (ELF: <build dir>/NAME), dropping the
#                                 previous program's; the kernel's stay
#   keel-break NAME LOCATION      a breakpoint that stops only in process NAME (a condition on
#                                 CR3: set it again after NAME restarts)
#   keel-wait NAME                run until process NAME exists
#   keel-bt NAME                  a process's backtrace (its first thread), running or not
#   $_keel_process("NAME")        1 when the current address space is process NAME's
import os
import struct

import gdb

DIRECT_MAP = 0xFFFF800000000000  # kernel/include/arch/layout.h DIRECT_MAP_BASE
STACK_TOP = 0x7FFFD0000000       # KEEL_ROOT_STACK_TOP = KEEL_PROCESS_STACK_TOP
BOOTINFO_VA = 0x7FFFE0000000     # KEEL_ROOT_BOOTINFO
STARTINFO_MAGIC = 0x464E495452415453  # "STARTINF" (keel/process.h)
BOOTINFO_MAGIC = 0x4F464E49544F4F42   # "BOOTINFO" (keel/abi.h)
# struct keel_startinfo (keel/process.h): pid at 16, stack_top at 56, name[32] after 32 caps of 24
# bytes from 96.
STARTINFO_VERSION = 1
SI_PID, SI_STACK_TOP, SI_NAME, SI_SIZE = 16, 56, 96 + 32 * 24, 96 + 32 * 24 + 32
PTE_PRESENT, PTE_LARGE, PTE_ADDR = 1, 1 << 7, 0x000FFFFFFFFFF000
STATE_NAMES = {0: "inactive", 1: "running", 2: "blocked send", 3: "blocked recv", 4: "blocked reply",
               5: "blocked notification"}

_loaded_program = None  # (path, address) of the program whose symbols keel-symbols added


def _read(addr, size):
    return bytes(gdb.selected_inferior().read_memory(addr, size))


def _u64(addr):
    return struct.unpack("<Q", _read(addr, 8))[0]


def _translate(root_phys, va):
    """Physical address of `va` in the address space whose PML4 is at root_phys, or None."""
    table = root_phys
    for level, shift in enumerate((39, 30, 21, 12)):
        entry = _u64(DIRECT_MAP + table + ((va >> shift) & 511) * 8)
        if not entry & PTE_PRESENT:
            return None
        if level in (1, 2) and entry & PTE_LARGE:  # a 1 GiB or 2 MiB page
            return (entry & PTE_ADDR & ~((1 << shift) - 1)) + (va & ((1 << shift) - 1))
        table = entry & PTE_ADDR
    return table + (va & 0xFFF)


def _read_user(root_phys, va, size):
    """Bytes of a process's memory (within one page), or None when unmapped."""
    phys = _translate(root_phys, va)
    return None if phys is None else _read(DIRECT_MAP + phys, size)


def _identity(root_phys):
    """(name, pid) of the process whose PML4 is at root_phys, from its start-up record."""
    page = _read_user(root_phys, STACK_TOP - 4096, 4096)
    if page:
        # The record sits just below the argument strings at the top; the stack grows down from
        # under it, and may hold the magic word too (the start code compares with it): search
        # from the top and check the version and the stack bounds as well.
        for off in range(4096 - SI_SIZE, -1, -16):
            magic, version = struct.unpack_from("<QQ", page, off)
            stack_top = struct.unpack_from("<Q", page, off + SI_STACK_TOP)[0]
            if magic == STARTINFO_MAGIC and version == STARTINFO_VERSION and stack_top == STACK_TOP:
                pid = struct.unpack_from("<Q", page, off + SI_PID)[0]
                name = page[off + SI_NAME:off + SI_NAME + 32].split(b"\0")[0].decode(errors="replace")
                return name, pid
    info = _read_user(root_phys, BOOTINFO_VA, 8)
    if info and struct.unpack("<Q", info)[0] == BOOTINFO_MAGIC:
        return "init", 0  # the root task has a BootInfo instead (a root-like child too: "init" then
                          # names the kind, not the process; keel-ps lists both)
    return "?", None


def _current_root():
    return int(gdb.parse_and_eval("$cr3")) & PTE_ADDR


def _processes():
    """[(name, pid, root_phys, [tcb, ...])] from the kernel's list of live TCBs."""
    spaces = {}
    t = gdb.parse_and_eval("tcb_list")
    seen = 0
    while int(t) != 0 and seen < 4096:
        pml4 = int(t["vspace_root"]["cap"]["obj"])
        if pml4:
            spaces.setdefault(pml4 - DIRECT_MAP, []).append(t)
        t = t["all_next"]
        seen += 1
    out = []
    for root, threads in spaces.items():
        name, pid = _identity(root)
        out.append((name, pid, root, threads))
    out.sort(key=lambda p: -1 if p[1] is None else p[1])
    return out


def _find(name):
    for p in _processes():
        if p[0] == name:
            return p
    raise gdb.GdbError("keel: no process named '%s' (keel-ps lists them)" % name)


class KeelPs(gdb.Command):
    """List Keel's processes: name, pid, VSpace root (the CR3 it runs with), threads, state."""

    def __init__(self):
        super().__init__("keel-ps", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        current = _current_root()
        pc = int(gdb.parse_and_eval("$pc"))
        print("  %-12s %5s %-18s %7s  %s" % ("NAME", "PID", "VSPACE ROOT", "THREADS", "FIRST THREAD"))
        for name, pid, root, threads in _processes():
            state = STATE_NAMES.get(int(threads[0]["state"]), "?")
            # A thread's saved RIP is stale while it runs: for the one on the CPU in user mode,
            # the live one.
            rip = pc if root == current and pc < DIRECT_MAP else int(threads[0]["ctx"]["rip"])
            print("%s %-12s %5s %#-18x %7d  %s, rip %#x" % ("*" if root == current else " ", name,
                  "-" if pid is None else pid, root, len(threads), state, rip))
        print("(* = the address space the CPU is in now)")


class KeelSymbols(gdb.Command):
    """keel-symbols NAME [ELF]: load a program's symbols (default ELF: the build dir's NAME)."""

    def __init__(self):
        super().__init__("keel-symbols", gdb.COMMAND_FILES, gdb.COMPLETE_FILENAME)

    def invoke(self, arg, from_tty):
        global _loaded_program
        args = gdb.string_to_argv(arg)
        if not args:
            raise gdb.GdbError("usage: keel-symbols NAME [ELF]")
        kernel = gdb.objfiles()[0].filename if gdb.objfiles() else "build/kernel.elf"
        path = args[1] if len(args) > 1 else os.path.join(os.path.dirname(kernel), args[0])
        if not os.path.exists(path):
            raise gdb.GdbError("keel: %s does not exist (give the ELF: keel-symbols NAME ELF)" % path)
        if _loaded_program:
            gdb.execute("remove-symbol-file %s" % _loaded_program, to_string=True)
        # A static ELF linked where it runs: its own section addresses are right.
        gdb.execute("add-symbol-file %s" % path, to_string=True)
        _loaded_program = path
        print("keel: symbols of %s loaded" % path)


class KeelBreak(gdb.Command):
    """keel-break NAME LOCATION: break at LOCATION only in process NAME (its address space now:
    after a restart of NAME, set it again)."""

    def __init__(self):
        super().__init__("keel-break", gdb.COMMAND_BREAKPOINTS)

    def invoke(self, arg, from_tty):
        args = arg.split(None, 1)
        if len(args) != 2:
            raise gdb.GdbError("usage: keel-break NAME LOCATION")
        name, pid, root, threads = _find(args[0])
        # A plain expression on CR3 (its low 12 bits are the PCID): gdb evaluates it at every hit
        # of that address, in whichever process, without calling into Python.
        gdb.execute("break %s if ((unsigned long)$cr3 & ~0xfffUL) == %#x" % (args[1], root))
        print("keel: stops only in %s (pid %s, VSpace root %#x)" % (name, pid, root))


class KeelWait(gdb.Command):
    """keel-wait NAME: run until process NAME exists (stopping in the kernel when it first logs)."""

    def __init__(self):
        super().__init__("keel-wait", gdb.COMMAND_RUNNING)

    def invoke(self, arg, from_tty):
        name = arg.strip()
        # Every program logs through its Log cap (kernel/object/log.c) soon after it starts.
        bp = gdb.Breakpoint("log_invoke", internal=True)
        bp.silent = True
        try:
            for _ in range(10000):
                try:
                    if any(p[0] == name for p in _processes()):
                        print("keel: %s is running" % name)
                        return
                except gdb.MemoryError:
                    pass  # not in long mode yet (gdb attached at the first instruction)
                gdb.execute("continue", to_string=True)
            raise gdb.GdbError("keel: %s did not start" % name)
        finally:
            bp.delete()


class KeelProcessFunction(gdb.Function):
    """$_keel_process("NAME"): 1 when the CPU is in process NAME's address space."""

    def __init__(self):
        super().__init__("_keel_process")

    def invoke(self, name):
        return 1 if _identity(_current_root())[0] == name.string() else 0


def _symbol(pc):
    text = gdb.execute("info symbol %#x" % pc, to_string=True).strip()
    return "??" if text.startswith("No symbol") else text.split(" in section")[0]


class KeelBt(gdb.Command):
    """keel-bt NAME: the backtrace of process NAME's first thread, from its saved registers (or
    the live ones if it is the one running), walking its frame pointers in its own memory."""

    def __init__(self):
        super().__init__("keel-bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        name, pid, root, threads = _find(arg.strip())
        if root == _current_root() and int(gdb.parse_and_eval("$pc")) < DIRECT_MAP:
            rip, rbp = int(gdb.parse_and_eval("$pc")), int(gdb.parse_and_eval("$rbp"))
        else:
            ctx = threads[0]["ctx"]
            rip, rbp = int(ctx["rip"]), int(ctx["rbp"])
        print("%s (pid %s), VSpace root %#x:" % (name, pid, root))
        for depth in range(32):
            print("#%-2d %#018x in %s" % (depth, rip, _symbol(rip)))
            frame = _read_user(root, rbp, 16) if rbp and rbp % 8 == 0 and (rbp & 0xFFF) <= 0xFF0 else None
            if not frame:
                break
            rbp, rip = struct.unpack("<QQ", frame)
            if rip == 0:
                break


KeelPs()
KeelSymbols()
KeelBreak()
KeelWait()
KeelProcessFunction()
KeelBt()
