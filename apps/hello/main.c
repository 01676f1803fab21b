/* hello: a tiny process for keel_process_spawn. What it does depends on argv[1]:
 *   (none)  print a greeting with its name, pid, arguments and caps; exit 0
 *   call    Call the cap named "service" with HELLO_LABEL: MR0 = argc, MR1 = bytes of the
 *           argument strings (with their NULs), MR2.. = those bytes packed little-endian; exit
 *           with the reply's MR0
 *   nocap   try to Call caps it was not given (slots 4, 5, 6, 9, 10 and the first free slot);
 *           exit 0 if each fails with FAILED_LOOKUP / MISSING_CAP, else 0x100 + the slot
 *   fault   write to address 0x10 (a VM fault for its supervisor)
 *   crash   execute ud2 (an exception fault, vector 6)
 *   io PORT write 0x5a to I/O port PORT (hex) and read it back; exit with the value read (it
 *           needs an I/O port cap bound to its VSpace, else it faults with #GP)
 *   spin    yield forever
 *   quiet   exit with status 7 at once */
#include <keel/bootinfo.h>
#include <keel/errors.h>
#include <keel/invoke.h>
#include <keel/process.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>

#define HELLO_LABEL 0x48454c4cull /* "HELL" */

static int call_service(const struct keel_startinfo *si)
{
    uint64_t ep = keel_startinfo_cap("service");
    if (!ep) {
        keel_printf("hello: no cap named 'service'\n");
        return 1;
    }
    uint8_t bytes[(KEEL_MSG_MAX_LENGTH - 2) * 8];
    uint64_t n = 0;
    for (uint32_t i = 0; i < si->argc; i++) {
        uint64_t len = strlen(si->argv[i]) + 1;
        if (n + len > sizeof bytes)
            return 2;
        memcpy(bytes + n, si->argv[i], len);
        n += len;
    }
    uint64_t words = (n + 7) / 8;
    memset(bytes + n, 0, words * 8 - n);
    struct keel_msg m = keel_msg_make(HELLO_LABEL, 2 + words);
    m.mr[0] = si->argc;
    m.mr[1] = n;
    for (uint64_t w = 0; w < words; w++) {
        uint64_t v;
        memcpy(&v, bytes + w * 8, 8);
        keel_msg_set_mr(&m, 2 + (unsigned)w, v);
    }
    int err = keel_call(ep, &m);
    if (err) {
        keel_printf("hello: Call on the service failed: %s\n", keel_strerror(err));
        return 3;
    }
    return (int)m.mr[0];
}

static int try_missing_caps(const struct keel_startinfo *si)
{
    const uint64_t slots[] = { 4, 5, 6, 9, 10, si->empty.start };
    for (unsigned i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        struct keel_msg m = keel_msg_make(1, 0);
        int err = keel_call(slots[i], &m);
        if (err != KEEL_E_FAILED_LOOKUP || m.mr[0] != KEEL_LOOKUP_MISSING_CAP)
            return 0x100 + (int)slots[i];
    }
    return 0;
}

static int port_echo(const char *hex)
{
    uint16_t port = 0;
    for (const char *c = hex; *c; c++) {
        if (*c == 'x' || *c == 'X')
            continue;
        port = (uint16_t)(port * 16 + (*c <= '9' ? *c - '0' : (*c | 0x20) - 'a' + 10));
    }
    uint8_t v = 0x5a;
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

int main(struct keel_bootinfo *bi)
{
    (void)bi;
    const struct keel_startinfo *si = keel_startinfo_get();
    if (!si) {
        keel_printf("hello: not started as a process\n");
        return 1;
    }
    const char *mode = si->argc > 1 ? si->argv[1] : "";
    if (strcmp(mode, "call") == 0)
        return call_service(si);
    if (strcmp(mode, "nocap") == 0)
        return try_missing_caps(si);
    if (strcmp(mode, "fault") == 0)
        *(volatile uint64_t *)0x10 = 1;
    if (strcmp(mode, "crash") == 0)
        __builtin_trap();
    if (strcmp(mode, "io") == 0 && si->argc > 2)
        return port_echo(si->argv[2]);
    if (strcmp(mode, "spin") == 0)
        for (;;)
            keel_yield();
    if (strcmp(mode, "quiet") == 0)
        return 7;
    keel_printf("hello: hello, world from '%s' (pid %llu, %u argument(s):", si->name,
                (unsigned long long)si->pid, si->argc);
    for (uint32_t i = 0; i < si->argc; i++)
        keel_printf(" '%s'", si->argv[i]);
    keel_printf("; %u cap(s)", si->cap_count);
    for (uint32_t i = 0; i < si->cap_count; i++)
        keel_printf(" %s@%llu", si->caps[i].name, (unsigned long long)si->caps[i].slot);
    keel_printf(")\n");
    return 0;
}
