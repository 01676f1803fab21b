/* keeltest runner: runs every registered test, checks the kernel's invariants after each, gives
 * all its memory back (Revoke of the pool untyped) and prints one line per test, then the totals,
 * then ends the emulator through the Debug cap with 0 (all passed) or 1.
 *
 * Started by init as a root-like child instead (the shell's `test`; the BootInfo says
 * KEEL_BOOTINFO_CHILD), it runs inside a live system: it exits with the number of failed tests
 * (at most 125) and leaves the machine running, and the tests that need what the system's own
 * processes hold skip with the reason. Output goes through keel_printf to the kernel console
 * (through its Log cap: the serial line, in every build).
 *
 * Command line (the kernel's, or the child's BootInfo's): keeltest=SUBSTRING runs only the tests
 * whose name contains it. */
#include "ktest.h"
#include "runner.h"
#include <keel/process.h>

extern const struct ktest_case __start_keel_tests[], __stop_keel_tests[];

static struct {
    bool failed, skipped;
    char reason[240];
    char skip_reason[120];
} cur;

static uint64_t pool;               /* slot of the untyped every test allocates from */
static uint64_t pool_bytes;
static uint64_t snapshot[KEEL_SLOT_ALLOC_MAX / 64];

static const char *base_name(const char *path)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '/')
            b = p + 1;
    return b;
}

void ktest_record_failure(const char *file, int line, const char *msg)
{
    if (!cur.failed) {
        cur.failed = true;
        keel_snprintf(cur.reason, sizeof(cur.reason), "%s:%d: %s", base_name(file), line, msg);
    } else {
        keel_printf("#   also %s:%d: %s\n", base_name(file), line, msg);
    }
}

void ktest_skip(const char *why)
{
    cur.skipped = true;
    strlcpy(cur.skip_reason, why, sizeof(cur.skip_reason));
}

static void fail_here(const char *fmt, ...) KEEL_PRINTF(1, 2);
static void fail_here(const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    keel_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ktest_record_failure("runner", 0, msg);
}

/* The largest power of two up to 64 MiB that a RAM untyped gives us. */
static int setup_pool(const struct keel_bootinfo *bi)
{
    int i = keel_bootinfo_largest_ram_untyped(bi);
    if (i < 0)
        return KEEL_E_NOT_ENOUGH_MEMORY;
    uint64_t src = keel_bootinfo_untyped_cptr(bi, (uint32_t)i);
    int err = keel_slot_alloc(&pool);
    if (err)
        return err;
    for (uint64_t size = 64ull << 20; size >= 1ull << 20; size >>= 1) {
        if (size > bi->untyped_list[i].size)
            continue;
        err = keel_untyped_retype(src, KEEL_OBJ_UNTYPED, size, 0, 0, pool, 1);
        if (err == KEEL_E_NOT_ENOUGH_MEMORY)
            continue;
        if (err)
            return err;
        pool_bytes = size;
        keel_untyped_alloc_clear();
        return keel_untyped_alloc_add(pool);
    }
    return KEEL_E_NOT_ENOUGH_MEMORY;
}

static void take_snapshot(void)
{
    uint64_t start, end;
    keel_slot_range(&start, &end);
    for (uint64_t s = start; s < end; s++) {
        uint64_t bit = 1ull << ((s - start) % 64);
        if (keel_slot_is_allocated(s))
            snapshot[(s - start) / 64] |= bit;
        else
            snapshot[(s - start) / 64] &= ~bit;
    }
}

static void check_invariants(const char *when)
{
    uint64_t violations;
    int err = keel_debug_check_invariants(KEEL_SLOT_DEBUG, &violations);
    if (err == KEEL_E_NOT_SUPPORTED)
        return; /* release kernel: no checker */
    if (err)
        fail_here("%s: CHECK_INVARIANTS failed: %s", when, keel_strerror(err));
    else if (violations)
        fail_here("%s: %llu kernel invariant violation(s), see the kernel log", when,
                  (unsigned long long)violations);
}

/* Give back everything the test made: objects (Revoke of the pool) and slots it filled with
 * copies of other caps (delete every slot allocated since the snapshot). */
static void cleanup(void)
{
    int err = keel_cspace_revoke(pool);
    if (err)
        fail_here("cleanup: revoke of the pool: %s", keel_strerror(err));
    uint64_t start, end;
    keel_slot_range(&start, &end);
    for (uint64_t s = start; s < end; s++) {
        bool was = (snapshot[(s - start) / 64] >> ((s - start) % 64)) & 1;
        if (!keel_slot_is_allocated(s) || was)
            continue;
        err = keel_cspace_delete(s);
        if (err)
            fail_here("cleanup: delete of slot %llu: %s", (unsigned long long)s, keel_strerror(err));
        keel_slot_free(s);
    }
    struct keel_untyped_desc d;
    err = keel_untyped_describe(pool, &d);
    if (err)
        fail_here("cleanup: describe of the pool: %s", keel_strerror(err));
    else if (d.watermark != 0)
        fail_here("cleanup: pool watermark %llu after revoke, expected 0", (unsigned long long)d.watermark);
    keel_untyped_alloc_refresh();
    kt_threads_reset();
}

static const char *filter_from(const char *cmdline, char *buf, size_t size)
{
    const char *p = cmdline;
    while ((p = strchr(p, 'k')) != 0) {
        if (strncmp(p, "keeltest=", 9) == 0 && (p == cmdline || p[-1] == ' ')) {
            p += 9;
            size_t n = 0;
            while (p[n] && p[n] != ' ' && n + 1 < size)
                n++;
            memcpy(buf, p, n);
            buf[n] = 0;
            return buf;
        }
        p++;
    }
    return 0;
}

static bool contains(const char *s, const char *sub)
{
    size_t n = strlen(sub);
    for (; *s; s++)
        if (strncmp(s, sub, n) == 0)
            return true;
    return n == 0;
}

bool kt_child;

static _Noreturn void finish(unsigned passed, unsigned failed)
{
    keel_printf("%u passed, %u failed\n", passed, failed);
    if (kt_child) /* the machine is not ours to end: exit to init with the failure count */
        keel_process_exit(failed > 125 ? 125 : (int)failed);
    int err = keel_debug_exit(KEEL_SLOT_DEBUG, failed ? 1 : 0);
    keel_printf("keeltest: DEBUG_EXIT returned %s\n", keel_strerror(err));
    for (;;)
        keel_tcb_suspend(KEEL_SLOT_TCB);
}

int main(struct keel_bootinfo *bi)
{
    if (!bi) {
        keel_puts("keeltest: no valid BootInfo");
        finish(0, 1);
    }
    kt_bi = bi;
    kt_child = keel_bootinfo_is_child(bi);
    char cmd[sizeof(bi->cmdline) + 1];
    memcpy(cmd, bi->cmdline, sizeof(bi->cmdline));
    cmd[sizeof(bi->cmdline)] = 0;
    char filter_buf[64];
    const char *filter = filter_from(cmd, filter_buf, sizeof(filter_buf));

    int err = setup_pool(bi);
    if (err) {
        keel_printf("keeltest: cannot set up the memory pool: %s\n", keel_strerror(err));
        finish(0, 1);
    }
    unsigned total = (unsigned)(__stop_keel_tests - __start_keel_tests);
    keel_printf("keeltest: %u tests, pool %llu KiB, %llu free slots%s%s%s\n", total,
                (unsigned long long)(pool_bytes >> 10), (unsigned long long)keel_slot_free_count(),
                filter ? ", filter " : "", filter ? filter : "", kt_child ? ", as a process of init's" : "");

    unsigned n = 0, passed = 0, failed = 0;
    for (const struct ktest_case *t = __start_keel_tests; t < __stop_keel_tests; t++) {
        if (filter && !contains(t->name, filter))
            continue;
        /* Tests named panic_* end the boot with a kernel panic on purpose: only when named. */
        if (!filter && strncmp(t->name, "panic_", 6) == 0)
            continue;
        n++;
        cur.failed = cur.skipped = false;
        take_snapshot();
        if (kt_child && strncmp(t->name, "panic_", 6) == 0)
            ktest_skip("ends the machine with a kernel panic: only in the test image");
        else
            t->fn();
        check_invariants("after the test");
        cleanup();
        check_invariants("after cleanup");
        if (cur.failed) {
            failed++;
            keel_printf("not ok %u %s: %s\n", n, t->name, cur.reason);
        } else {
            passed++;
            if (cur.skipped)
                keel_printf("ok %u %s # skip %s\n", n, t->name, cur.skip_reason);
            else
                keel_printf("ok %u %s\n", n, t->name);
        }
    }
    finish(passed, failed);
}
