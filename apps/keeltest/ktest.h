/* keeltest's framework: test registration, expectations, and helpers that allocate from a
 * per-test memory pool which the runner revokes after every test.
 *
 * EXPECT_* record a failure and go on; ASSERT_* record it and return from the test (use them
 * where going on could block forever, e.g. before waiting for a thread). */
#ifndef KTEST_H
#define KTEST_H

#include <keel/abi.h>
#include <keel/alloc.h>
#include <keel/bootinfo.h>
#include <keel/errors.h>
#include <keel/invoke.h>
#include <keel/stdio.h>
#include <keel/string.h>
#include <keel/syscall.h>
#include <keel/thread.h>
#include <stdbool.h>
#include <stdint.h>

struct ktest_case {
    const char *name;
    void (*fn)(void);
};

/* Tests run in link order: file order in CMakeLists.txt, then order within the file. */
#define KEEL_TEST(name_)                                                                                 \
    static void ktest_body_##name_(void);                                                                \
    __attribute__((used, section("keel_tests"), aligned(8))) static const struct ktest_case               \
        ktest_case_##name_ = { #name_, ktest_body_##name_ };                                             \
    static void ktest_body_##name_(void)

/* ---- Checks: each returns true when it holds ---- */
bool ktest_check(bool ok, const char *file, int line, const char *fmt, ...) KEEL_PRINTF(4, 5);
bool ktest_check_eq(uint64_t a, uint64_t b, const char *ea, const char *eb, const char *file, int line);
bool ktest_check_ne(uint64_t a, uint64_t b, const char *ea, const char *eb, const char *file, int line);
bool ktest_check_err(int got, int want, const char *expr, const char *file, int line);
bool ktest_check_lookup(int got, uint64_t failure, const char *expr, const char *file, int line);
/* Mark the running test as skipped (it passes; the reason is printed). */
void ktest_skip(const char *why);

#define EXPECT_TRUE(c) ((void)ktest_check((c), __FILE__, __LINE__, "expected %s", #c))
#define EXPECT_EQ(a, b) ((void)ktest_check_eq((uint64_t)(a), (uint64_t)(b), #a, #b, __FILE__, __LINE__))
#define EXPECT_NE(a, b) ((void)ktest_check_ne((uint64_t)(a), (uint64_t)(b), #a, #b, __FILE__, __LINE__))
#define EXPECT_OK(e) ((void)ktest_check_err((e), 0, #e, __FILE__, __LINE__))
#define EXPECT_ERR(e, code) ((void)ktest_check_err((e), (code), #e, __FILE__, __LINE__))
/* FAILED_LOOKUP with detail MR0 = failure (enum keel_lookup_failure). */
#define EXPECT_LOOKUP(e, failure) ((void)ktest_check_lookup((e), (failure), #e, __FILE__, __LINE__))
/* Error detail word i of the last failed invocation. */
#define EXPECT_DETAIL(i, v) EXPECT_EQ(keel_last_error_detail(i), (v))

#define ASSERT_TRUE(c)                                                                                   \
    do {                                                                                                 \
        if (!ktest_check((c), __FILE__, __LINE__, "expected %s", #c))                                    \
            return;                                                                                      \
    } while (0)
#define ASSERT_EQ(a, b)                                                                                  \
    do {                                                                                                 \
        if (!ktest_check_eq((uint64_t)(a), (uint64_t)(b), #a, #b, __FILE__, __LINE__))                   \
            return;                                                                                      \
    } while (0)
#define ASSERT_OK(e)                                                                                     \
    do {                                                                                                 \
        if (!ktest_check_err((e), 0, #e, __FILE__, __LINE__))                                            \
            return;                                                                                      \
    } while (0)
#define ASSERT_ERR(e, code)                                                                              \
    do {                                                                                                 \
        if (!ktest_check_err((e), (code), #e, __FILE__, __LINE__))                                       \
            return;                                                                                      \
    } while (0)

/* ---- Helpers (memory comes from the test pool, slots are swept after the test) ---- */
extern const struct keel_bootinfo *kt_bi;
/* Run by init as a root-like child inside a live system (KEEL_BOOTINFO_CHILD), not as the root
 * task: what the system's processes hold (IRQ lines, device ports) may not be ours to take. */
extern bool kt_child;

int kt_new(uint64_t type, uint64_t size_param, uint64_t *cptr);   /* one object in a fresh slot */
int kt_slot(uint64_t *slot);                                      /* an empty slot */
int kt_slots(uint64_t count, uint64_t *first);                    /* consecutive empty slots */
int kt_untyped(uint64_t bytes, uint64_t *cptr);                   /* a child untyped of `bytes` */
/* The cap's type (KEEL_CAP_NULL for an empty slot); ~0 if Identify failed otherwise. */
uint64_t kt_type(uint64_t cptr);
int kt_identify(uint64_t cptr, struct keel_cap_identity *id);
/* Mint `src` with rights/badge into a fresh slot. */
int kt_mint(uint64_t src, uint64_t rights, uint64_t badge, uint64_t *dest);

/* A thread in our address space, without IPC buffer, at our priority, already running fn(arg).
 * At most KT_MAX_THREADS per test; they die with the pool after the test. */
#define KT_MAX_THREADS 4
int kt_thread(void (*fn)(void *), void *arg, struct keel_thread **out);
/* Like kt_thread but configured and not started (tcb cptr in (*out)->tcb). */
int kt_thread_prepare(void (*fn)(void *), void *arg, struct keel_thread **out);
/* A thread like kt_thread's, pinned to `cpu`, running fn(arg). */
int kt_pinned_thread(void (*fn)(void *), void *arg, uint64_t cpu, struct keel_thread **out);
/* True if the machine has at least n CPUs; otherwise marks the test skipped ("needs more CPUs"). */
bool kt_need_cpus(uint32_t n);
/* kt_spin(&spinner): count until told to stop (a busy thread for another CPU). */
struct kt_spinner {
    volatile uint64_t count;
    volatile int stop;
};
void kt_spin(void *spinner);
/* Yield until the thread is in `state` (enum keel_thread_state); false after a few seconds. */
bool kt_wait_state(uint64_t tcb, uint64_t state);
/* Yield until *flag becomes nonzero; false after a few seconds. */
bool kt_wait_flag(volatile int *flag);
/* For bounded busy-waits: kt_patient(kt_now()-at-start) stays true for a few seconds. */
uint64_t kt_now(void);
bool kt_patient(uint64_t start);

#endif
