/* keeltest's checks and helpers. The runner (main.c) owns the per-test state. */
#include "ktest.h"
#include "runner.h"

const struct keel_bootinfo *kt_bi;

bool ktest_check(bool ok, const char *file, int line, const char *fmt, ...)
{
    if (ok)
        return true;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    keel_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ktest_record_failure(file, line, msg);
    return false;
}

bool ktest_check_eq(uint64_t a, uint64_t b, const char *ea, const char *eb, const char *file, int line)
{
    return ktest_check(a == b, file, line, "%s == %s: %#llx != %#llx", ea, eb, (unsigned long long)a,
                       (unsigned long long)b);
}

bool ktest_check_ne(uint64_t a, uint64_t b, const char *ea, const char *eb, const char *file, int line)
{
    return ktest_check(a != b, file, line, "%s != %s: both %#llx", ea, eb, (unsigned long long)a);
}

/* Error details are quoted from the last invocation, which is the one `expr` just made. */
bool ktest_check_err(int got, int want, const char *expr, const char *file, int line)
{
    if (got == want)
        return true;
    /* Raw syscall stubs record nothing: quote details only if the record is of this error. */
    if (got && keel_last_error() == got)
        return ktest_check(false, file, line, "%s: %s (details %#llx %#llx %#llx), expected %s", expr,
                           keel_strerror(got), (unsigned long long)keel_last_error_detail(0),
                           (unsigned long long)keel_last_error_detail(1),
                           (unsigned long long)keel_last_error_detail(2), keel_strerror(want));
    if (got)
        return ktest_check(false, file, line, "%s: %s, expected %s", expr, keel_strerror(got), keel_strerror(want));
    return ktest_check(false, file, line, "%s: OK, expected %s", expr, keel_strerror(want));
}

bool ktest_check_lookup(int got, uint64_t failure, const char *expr, const char *file, int line)
{
    if (!ktest_check_err(got, KEEL_E_FAILED_LOOKUP, expr, file, line))
        return false;
    uint64_t f = keel_last_error_detail(0);
    return ktest_check(f == failure, file, line, "%s: lookup failure %s, expected %s", expr,
                       keel_lookup_failure_name(f), keel_lookup_failure_name(failure));
}

/* ---- Objects and slots ---- */

int kt_new(uint64_t type, uint64_t size_param, uint64_t *cptr)
{
    return keel_alloc_object(type, size_param, cptr);
}

int kt_slot(uint64_t *slot) { return keel_slot_alloc(slot); }
int kt_slots(uint64_t count, uint64_t *first) { return keel_slot_alloc_range(count, first); }
int kt_untyped(uint64_t bytes, uint64_t *cptr) { return keel_alloc_object(KEEL_OBJ_UNTYPED, bytes, cptr); }

int kt_identify(uint64_t cptr, struct keel_cap_identity *id)
{
    return keel_debug_cap_identify(KEEL_SLOT_DEBUG, cptr, id);
}

uint64_t kt_type(uint64_t cptr)
{
    struct keel_cap_identity id;
    int err = kt_identify(cptr, &id);
    if (!err)
        return id.type;
    /* An empty final slot may be reported as a lookup failure with nothing left to resolve;
     * identify_empty_slot checks which answer the kernel gives, here both mean "empty". */
    if (err == KEEL_E_FAILED_LOOKUP && keel_last_error_detail(0) == KEEL_LOOKUP_MISSING_CAP &&
        keel_last_error_detail(1) == 0)
        return KEEL_CAP_NULL;
    return ~0ull;
}

int kt_mint(uint64_t src, uint64_t rights, uint64_t badge, uint64_t *dest)
{
    int err = kt_slot(dest);
    return err ? err : keel_cspace_mint(*dest, src, rights, badge);
}

/* ---- Threads ---- */

static struct keel_thread threads[KT_MAX_THREADS];
static uint8_t stacks[KT_MAX_THREADS][16384] __attribute__((aligned(16)));
static unsigned threads_used;

void kt_threads_reset(void) { threads_used = 0; }

int kt_thread_prepare(void (*fn)(void *), void *arg, struct keel_thread **out)
{
    if (threads_used == KT_MAX_THREADS)
        return KEEL_E_NOT_ENOUGH_MEMORY;
    unsigned i = threads_used++;
    struct keel_thread_config cfg = {
        .entry = fn,
        .arg = arg,
        .stack_top = stacks[i] + sizeof(stacks[i]),
        .priority = KEEL_THREAD_PRIORITY_INHERIT,
    };
    *out = &threads[i];
    return keel_thread_create(&threads[i], &cfg);
}

int kt_thread(void (*fn)(void *), void *arg, struct keel_thread **out)
{
    int err = kt_thread_prepare(fn, arg, out);
    return err ? err : keel_thread_start(*out);
}

/* Waits are bounded in time, not in tries: a Yield with nobody else to run returns at once, and
 * an emulated CPU on a loaded host can be slow to pick up a thread another CPU woke. */
#define KT_PATIENCE_MS 5000

static inline uint64_t kt_tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

bool kt_patient(uint64_t start)
{
    uint64_t khz = kt_bi->tsc_khz ? kt_bi->tsc_khz : 1000000;
    return kt_tsc() - start < khz * KT_PATIENCE_MS;
}

uint64_t kt_now(void) { return kt_tsc(); }

bool kt_wait_state(uint64_t tcb, uint64_t state)
{
    for (uint64_t start = kt_tsc(); kt_patient(start);) {
        struct keel_tcb_info info;
        if (keel_tcb_get_info(tcb, &info))
            return false;
        if (info.state == state)
            return true;
        keel_yield();
    }
    return false;
}

bool kt_wait_flag(volatile int *flag)
{
    for (uint64_t start = kt_tsc(); kt_patient(start);) {
        if (*flag)
            return true;
        keel_yield();
    }
    return *flag != 0;
}

int kt_pinned_thread(void (*fn)(void *), void *arg, uint64_t cpu, struct keel_thread **out)
{
    int err = kt_thread_prepare(fn, arg, out);
    if (!err)
        err = keel_tcb_set_affinity((*out)->tcb, cpu);
    return err ? err : keel_thread_start(*out);
}

bool kt_need_cpus(uint32_t n)
{
    if (kt_bi->cpu_count >= n)
        return true;
    ktest_skip("needs more CPUs");
    return false;
}

void kt_spin(void *spinner)
{
    struct kt_spinner *s = spinner;
    while (!s->stop)
        s->count++;
}
