/* Processes (keel/process.h): spawning apps/hello from its boot module and ELF images built here
 * in memory, the start-up record, caps given and not given, supervision (faults and exits arrive
 * badged with the process id), teardown by one Revoke with nothing leaked. */
#include "ktest.h"
#include <keel/elf.h>
#include <keel/process.h>

#define HELLO_LABEL 0x48454c4cull /* apps/hello/main.c */
#define PROC_BYTES (1ull << 20)
#define COM1_SCRATCH 0x3ff

struct sup {
    uint64_t ep, reply, ut;  /* supervision endpoint, a reply object, the process's Untyped */
    uint64_t free_slots;     /* caller slots free before the spawn */
};

static int sup_init(struct sup *s, uint64_t bytes)
{
    int err;
    if ((err = kt_new(KEEL_OBJ_ENDPOINT, 0, &s->ep)) || (err = kt_new(KEEL_OBJ_REPLY, 0, &s->reply)) ||
        (err = kt_untyped(bytes, &s->ut)))
        return err;
    s->free_slots = keel_slot_free_count();
    return 0;
}

static uint64_t watermark(uint64_t ut)
{
    struct keel_untyped_desc d;
    return keel_untyped_describe(ut, &d) ? ~0ull : d.watermark;
}

static struct keel_process_config hello_cfg(const struct sup *s, unsigned argc, const char *const *argv)
{
    return (struct keel_process_config){
        .module = keel_bootinfo_module(kt_bi, "hello"),
        .untyped = s->ut,
        .asid_pool = KEEL_SLOT_ASID_POOL,
        .fault_ep = s->ep,
        .priority = KEEL_THREAD_PRIORITY_INHERIT,
        .argc = argc,
        .argv = argv,
    };
}

/* Receive on `ep`, yielding to the child (same priority) while nothing is there. */
static int recv_patient(uint64_t ep, uint64_t reply, struct keel_msg *m)
{
    for (int i = 0; i < 20000; i++) {
        int err = keel_nbrecv(ep, reply, m);
        if (err != KEEL_E_WOULD_BLOCK)
            return err;
        keel_yield();
    }
    return KEEL_E_WOULD_BLOCK;
}

/* The process's exit message: its status, or -1000 - label for anything else. */
static int64_t wait_exit(const struct sup *s, const struct keel_process *p)
{
    struct keel_msg m = keel_msg_make(0, 0);
    if (recv_patient(s->ep, s->reply, &m))
        return -2000;
    if (m.badge != p->pid)
        return -3000;
    if (keel_msg_label(m.info) != KEEL_PROCESS_MSG_EXIT) {
        keel_printf("# %s (pid %llu): label %llu, MR0-3 %#llx %#llx %#llx %#llx instead of an exit\n", p->name,
                    (unsigned long long)p->pid, (unsigned long long)keel_msg_label(m.info),
                    (unsigned long long)m.mr[0], (unsigned long long)m.mr[1], (unsigned long long)m.mr[2],
                    (unsigned long long)m.mr[3]);
        return -1000 - (int64_t)keel_msg_label(m.info);
    }
    return (int64_t)m.mr[0];
}

/* Destroyed, with every byte of its Untyped and every caller slot back. */
static void expect_gone(const struct sup *s, struct keel_process *p)
{
    EXPECT_OK(keel_process_destroy(p));
    EXPECT_EQ(p->state, KEEL_PROCESS_NONE);
    EXPECT_EQ(watermark(s->ut), 0);
    EXPECT_EQ(keel_slot_free_count(), s->free_slots);
}

KEEL_TEST(process_hello_calls_service_with_argv_and_exits)
{
    struct sup s;
    uint64_t svc;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &svc));
    ASSERT_OK(sup_init(&s, PROC_BYTES));
    ASSERT_TRUE(keel_bootinfo_module(kt_bi, "hello") != 0);
    static const char *const argv[] = { "hello", "call", "alpha", "beta gamma" };
    struct keel_process_cap caps[] = {
        { .cptr = svc, .rights = KEEL_RIGHT_WRITE, .badge = 0x77, .name = "service" },
    };
    struct keel_process_config cfg = hello_cfg(&s, 4, argv);
    cfg.cap_count = 1;
    cfg.caps = caps;
    struct keel_process p;
    ASSERT_OK(keel_process_spawn(&cfg, &p));
    EXPECT_EQ(p.state, KEEL_PROCESS_RUNNING);
    EXPECT_NE(p.pid, 0);
    EXPECT_TRUE(p.pages > 16 && p.tables >= 3 && p.bytes > 0 && p.bytes <= PROC_BYTES);
    EXPECT_EQ(strcmp(p.name, "hello"), 0);

    struct keel_msg m = keel_msg_make(0, 0);
    ASSERT_OK(recv_patient(svc, s.reply, &m));
    EXPECT_EQ(keel_msg_label(m.info), HELLO_LABEL);
    EXPECT_EQ(m.badge, 0x77);
    EXPECT_EQ(m.mr[0], 4);
    static const char want[] = "hello\0call\0alpha\0beta gamma"; /* with the final NUL: 28 bytes */
    ASSERT_EQ(m.mr[1], sizeof want);
    EXPECT_EQ(keel_msg_length(m.info), 2 + (sizeof want + 7) / 8);
    char got[64] = { 0 };
    for (unsigned w = 0; w < (sizeof want + 7) / 8; w++) {
        uint64_t v = keel_msg_get_mr(&m, 2 + w);
        memcpy(got + w * 8, &v, 8);
    }
    EXPECT_EQ(memcmp(got, want, sizeof want), 0);
    m = keel_msg_make(0, 1);
    m.mr[0] = 42;
    ASSERT_OK(keel_reply(s.reply, &m));
    EXPECT_EQ(wait_exit(&s, &p), 42);
    expect_gone(&s, &p);
}

KEEL_TEST(process_spawn_teardown_100_times_leaks_nothing)
{
    struct sup s;
    ASSERT_OK(sup_init(&s, PROC_BYTES));
    static const char *const argv[] = { "hello", "quiet" };
    struct keel_process_config cfg = hello_cfg(&s, 2, argv);
    uint64_t first_bytes = 0, last_pid = 0;
    for (int i = 0; i < 100; i++) {
        struct keel_process p;
        ASSERT_OK(keel_process_spawn(&cfg, &p));
        if (i == 0)
            first_bytes = p.bytes;
        EXPECT_EQ(p.bytes, first_bytes); /* the same layout every time */
        EXPECT_NE(p.pid, last_pid);
        last_pid = p.pid;
        ASSERT_EQ(wait_exit(&s, &p), 7);
        ASSERT_OK(keel_process_destroy(&p));
        ASSERT_EQ(watermark(s.ut), 0);
        ASSERT_EQ(keel_slot_free_count(), s.free_slots);
        if (i % 20 == 19) {
            uint64_t violations = 0;
            int err = keel_debug_check_invariants(KEEL_SLOT_DEBUG, &violations);
            if (err != KEEL_E_NOT_SUPPORTED) {
                EXPECT_OK(err);
                EXPECT_EQ(violations, 0);
            }
        }
    }
}

/* ---- ELF images built in memory ---- */

struct ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

#define IMG_CODE_OFF 0x1000
#define IMG_VADDR 0x401000ull
static uint8_t img[IMG_CODE_OFF + 16] __attribute__((aligned(8)));

static struct ehdr *img_ehdr(void) { return (struct ehdr *)img; }
static struct phdr *img_phdr(unsigned i) { return (struct phdr *)(img + sizeof(struct ehdr)) + i; }

/* One R+X segment of 16 bytes at IMG_VADDR holding `ud2`; a second (RW, one page further) if
 * `two`. */
static void img_build(bool two)
{
    memset(img, 0, sizeof img);
    struct ehdr *h = img_ehdr();
    memcpy(h->ident, "\x7f" "ELF\x02\x01\x01", 7);
    h->type = 2;
    h->machine = 62;
    h->version = 1;
    h->entry = IMG_VADDR;
    h->phoff = sizeof(struct ehdr);
    h->ehsize = sizeof(struct ehdr);
    h->phentsize = sizeof(struct phdr);
    h->phnum = two ? 2 : 1;
    *img_phdr(0) = (struct phdr){ .type = 1, .flags = KEEL_ELF_PF_R | KEEL_ELF_PF_X, .offset = IMG_CODE_OFF,
                                  .vaddr = IMG_VADDR, .filesz = 16, .memsz = 16, .align = 4096 };
    if (two)
        *img_phdr(1) = (struct phdr){ .type = 1, .flags = KEEL_ELF_PF_R | KEEL_ELF_PF_W, .offset = IMG_CODE_OFF,
                                      .vaddr = IMG_VADDR + 0x1000, .filesz = 16, .memsz = 0x2000, .align = 4096 };
    img[IMG_CODE_OFF] = 0x0f; /* ud2 */
    img[IMG_CODE_OFF + 1] = 0x0b;
}

static struct keel_process_config img_cfg(const struct sup *s)
{
    return (struct keel_process_config){
        .name = "mini",
        .image = img,
        .image_size = sizeof img,
        .untyped = s->ut,
        .asid_pool = KEEL_SLOT_ASID_POOL,
        .fault_ep = s->ep,
        .priority = KEEL_THREAD_PRIORITY_INHERIT,
    };
}

KEEL_TEST(process_from_memory_image_faults_to_supervisor_with_badge)
{
    struct sup s;
    ASSERT_OK(sup_init(&s, PROC_BYTES));
    img_build(true);
    struct keel_process_config cfg = img_cfg(&s);
    cfg.pid = 0x5151;
    struct keel_process p;
    ASSERT_OK(keel_process_spawn(&cfg, &p));
    EXPECT_EQ(p.pid, 0x5151);
    EXPECT_EQ(p.entry, IMG_VADDR);
    /* W^X: the code page is RX, the data pages RW and not executable. */
    uint64_t pte, level;
    ASSERT_OK(keel_debug_read_pte(KEEL_SLOT_DEBUG, p.vspace, IMG_VADDR, &pte, &level));
    EXPECT_EQ(level, 1);
    EXPECT_EQ(pte & 2, 0);              /* not writable */
    EXPECT_EQ(pte >> 63, 0);            /* executable */
    ASSERT_OK(keel_debug_read_pte(KEEL_SLOT_DEBUG, p.vspace, IMG_VADDR + 0x2000, &pte, &level));
    EXPECT_EQ(pte & 2, 2);
    if (keel_bootinfo_has(kt_bi, KEEL_FEATURE_NX))
        EXPECT_EQ(pte >> 63, 1);
    /* The stack's guard page is not mapped. */
    uint64_t guard = KEEL_PROCESS_STACK_TOP - KEEL_PROCESS_DEFAULT_STACK - 4096;
    ASSERT_OK(keel_debug_read_pte(KEEL_SLOT_DEBUG, p.vspace, guard, &pte, &level));
    EXPECT_EQ(pte, 0);

    struct keel_msg m = keel_msg_make(0, 0);
    ASSERT_OK(recv_patient(s.ep, s.reply, &m));
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_EXCEPTION);
    EXPECT_EQ(m.badge, 0x5151);
    EXPECT_EQ(m.mr[0], IMG_VADDR);
    EXPECT_EQ(m.mr[1], 6); /* #UD */
    expect_gone(&s, &p);
}

KEEL_TEST(process_hello_vm_fault_reaches_supervisor)
{
    struct sup s;
    ASSERT_OK(sup_init(&s, PROC_BYTES));
    static const char *const argv[] = { "hello", "fault" };
    struct keel_process_config cfg = hello_cfg(&s, 2, argv);
    struct keel_process p;
    ASSERT_OK(keel_process_spawn(&cfg, &p));
    struct keel_msg m = keel_msg_make(0, 0);
    ASSERT_OK(recv_patient(s.ep, s.reply, &m));
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_VM);
    EXPECT_EQ(m.badge, p.pid);
    EXPECT_EQ(m.mr[1], 0x10);
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(p.tcb, &info));
    EXPECT_EQ(info.state, KEEL_THREAD_BLOCKED_REPLY); /* waits for its supervisor */
    expect_gone(&s, &p);
}

static void expect_spawn_error(const struct sup *s, struct keel_process_config *cfg, int want, const char *what)
{
    struct keel_process p;
    int err = keel_process_spawn(cfg, &p);
    ktest_check(err == want, __FILE__, __LINE__, "%s: %s (%#x), expected %s (%#x)", what,
                keel_process_strerror(err), err, keel_process_strerror(want), want);
    EXPECT_EQ(p.state, KEEL_PROCESS_NONE);
    EXPECT_TRUE(p.failed_step != 0);
    EXPECT_EQ(watermark(s->ut), 0);
    EXPECT_EQ(keel_slot_free_count(), s->free_slots);
}

KEEL_TEST(process_malformed_elf_gives_precise_error_and_leaks_nothing)
{
    struct sup s;
    ASSERT_OK(sup_init(&s, PROC_BYTES));
    struct keel_process_config cfg = img_cfg(&s);

    img_build(false);
    img_ehdr()->ident[1] = 'X';
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_ELF(KEEL_ELF_BAD_MAGIC), "bad magic");

    img_build(false);
    img_ehdr()->machine = 3; /* i386 */
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_ELF(KEEL_ELF_WRONG_MACHINE), "wrong machine");

    img_build(false);
    img_phdr(0)->vaddr = 0xffffffff80001000ull;
    img_ehdr()->entry = img_phdr(0)->vaddr;
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_ELF(KEEL_ELF_SEGMENT_OUTSIDE_USER), "kernel-half segment");

    img_build(false);
    img_phdr(0)->vaddr = 0x00007ffffffff000ull; /* runs past the top of the user half */
    img_phdr(0)->memsz = 0x2000;
    img_ehdr()->entry = img_phdr(0)->vaddr;
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_ELF(KEEL_ELF_SEGMENT_OUTSIDE_USER), "segment across the top");

    img_build(false);
    img_phdr(0)->filesz = img_phdr(0)->memsz = 0x10000;
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_ELF(KEEL_ELF_SEGMENT_BEYOND_FILE), "size beyond the file");

    img_build(false);
    img_phdr(0)->memsz = 8;
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_ELF(KEEL_ELF_SEGMENT_FILESZ_GT_MEMSZ), "filesz > memsz");

    img_build(true);
    img_phdr(1)->vaddr = IMG_VADDR + 8; /* shares the code page */
    img_phdr(1)->offset = IMG_CODE_OFF + 8;
    img_phdr(1)->filesz = 8;
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_ELF(KEEL_ELF_SEGMENTS_OVERLAP), "overlapping segments");

    img_build(false);
    img_phdr(0)->flags |= KEEL_ELF_PF_W;
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_ELF(KEEL_ELF_SEGMENT_WRITE_EXEC), "W+X segment");

    img_build(false);
    cfg.image_size = 20;
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_ELF(KEEL_ELF_TOO_SMALL), "truncated header");
    cfg.image_size = sizeof img;

    img_build(true); /* data segment where the stack's guard page is */
    img_phdr(1)->vaddr = KEEL_PROCESS_STACK_TOP - KEEL_PROCESS_DEFAULT_STACK - 0x1000;
    img_phdr(1)->memsz = 0x1000;
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_LAYOUT, "segment on the stack guard");

    /* And a good image still loads afterwards. */
    img_build(false);
    struct keel_process p;
    ASSERT_OK(keel_process_spawn(&cfg, &p));
    expect_gone(&s, &p);
}

KEEL_TEST(process_spawn_errors_leak_nothing)
{
    struct sup s;
    ASSERT_OK(sup_init(&s, 64 * 1024)); /* too small for hello */
    static const char *const argv[] = { "hello", "quiet" };
    struct keel_process_config cfg = hello_cfg(&s, 2, argv);
    expect_spawn_error(&s, &cfg, KEEL_E_NOT_ENOUGH_MEMORY, "untyped too small");

    ASSERT_OK(sup_init(&s, PROC_BYTES));
    cfg = hello_cfg(&s, 2, argv);
    cfg.image = img;
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_NO_IMAGE, "module and image");
    cfg = hello_cfg(&s, 2, argv);
    cfg.cap_count = KEEL_PROCESS_MAX_CAPS + 1;
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_TOO_MANY_CAPS, "too many caps");
    cfg = hello_cfg(&s, KEEL_PROCESS_MAX_ARGS + 1, argv);
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_ARGS_TOO_LONG, "too many args");
    static char long_arg[KEEL_PROCESS_ARGS_MAX_BYTES + 1];
    memset(long_arg, 'a', sizeof long_arg - 1);
    static const char *const long_argv[] = { "hello", long_arg };
    cfg = hello_cfg(&s, 2, long_argv);
    expect_spawn_error(&s, &cfg, KEEL_PROCESS_E_ARGS_TOO_LONG, "args too long");
    cfg = hello_cfg(&s, 2, argv);
    cfg.untyped = s.ep; /* not an Untyped: refused before anything is revoked */
    struct keel_process p;
    EXPECT_ERR(keel_process_spawn(&cfg, &p), KEEL_E_INVALID_CAPABILITY);
    EXPECT_EQ(kt_type(s.ep), KEEL_OBJ_ENDPOINT);

    /* A moved cap comes back when a later cap cannot be given. */
    uint64_t ep2, empty;
    ASSERT_OK(kt_new(KEEL_OBJ_ENDPOINT, 0, &ep2));
    ASSERT_OK(kt_slot(&empty));
    s.free_slots = keel_slot_free_count();
    struct keel_process_cap caps[] = {
        { .cptr = ep2, .flags = KEEL_PROCESS_CAP_MOVE, .name = "moved" },
        { .cptr = empty, .name = "nothing" },
    };
    cfg = hello_cfg(&s, 2, argv);
    cfg.cap_count = 2;
    cfg.caps = caps;
    expect_spawn_error(&s, &cfg, KEEL_E_FAILED_LOOKUP, "an empty slot as a cap");
    EXPECT_EQ(kt_type(ep2), KEEL_OBJ_ENDPOINT);
}

KEEL_TEST(process_without_caps_cannot_reach_anything)
{
    struct sup s;
    ASSERT_OK(sup_init(&s, PROC_BYTES));
    static const char *const argv[] = { "hello", "nocap" };
    struct keel_process_config cfg = hello_cfg(&s, 2, argv);
    struct keel_process p;
    ASSERT_OK(keel_process_spawn(&cfg, &p));
    /* 0: every Call on a cptr it was not given failed with FAILED_LOOKUP / MISSING_CAP. */
    EXPECT_EQ(wait_exit(&s, &p), 0);
    expect_gone(&s, &p);
}

KEEL_TEST(process_ioport_cap_is_bound_to_its_vspace)
{
    struct sup s;
    uint64_t io;
    ASSERT_OK(kt_slot(&io));
    ASSERT_OK(keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, COM1_SCRATCH, COM1_SCRATCH, io));
    ASSERT_OK(sup_init(&s, PROC_BYTES));
    static const char *const argv[] = { "hello", "io", "0x3ff" };
    /* Moved, not copied: a copy of an I/O port cap loses its last port (cap_derive clears word1). */
    struct keel_process_cap caps[] = {
        { .cptr = io, .flags = KEEL_PROCESS_CAP_MOVE | KEEL_PROCESS_CAP_BIND_IOPORT, .name = "com1" },
    };
    struct keel_process_config cfg = hello_cfg(&s, 3, argv);
    cfg.cap_count = 1;
    cfg.caps = caps;
    struct keel_process p;
    ASSERT_OK(keel_process_spawn(&cfg, &p));
    EXPECT_EQ(kt_type(io), KEEL_CAP_NULL);
    EXPECT_EQ(wait_exit(&s, &p), 0x5a); /* the UART scratch register kept what it wrote */
    expect_gone(&s, &p);

    /* Without the cap the same access is a #GP for the supervisor. */
    cfg.cap_count = 0;
    ASSERT_OK(keel_process_spawn(&cfg, &p));
    struct keel_msg m = keel_msg_make(0, 0);
    ASSERT_OK(recv_patient(s.ep, s.reply, &m));
    EXPECT_EQ(keel_msg_label(m.info), KEEL_FAULT_EXCEPTION);
    EXPECT_EQ(m.mr[1], 13);
    EXPECT_EQ(m.badge, p.pid);
    expect_gone(&s, &p);

    /* A failed spawn gives a moved port cap back unbound (so it can be bound again). */
    uint64_t empty;
    ASSERT_OK(kt_slot(&io));
    ASSERT_OK(keel_ioport_control_issue(KEEL_SLOT_IOPORT_CONTROL, COM1_SCRATCH, COM1_SCRATCH, io));
    ASSERT_OK(kt_slot(&empty));
    struct keel_process_cap two[] = {
        { .cptr = io, .flags = KEEL_PROCESS_CAP_MOVE | KEEL_PROCESS_CAP_BIND_IOPORT, .name = "com1" },
        { .cptr = empty, .name = "nothing" },
    };
    cfg.cap_count = 2;
    cfg.caps = two;
    EXPECT_ERR(keel_process_spawn(&cfg, &p), KEEL_E_FAILED_LOOKUP);
    EXPECT_EQ(kt_type(io), KEEL_CAP_IOPORT);
    EXPECT_OK(keel_ioport_bind(io, KEEL_SLOT_VSPACE));
    EXPECT_OK(keel_ioport_unbind(io));
    EXPECT_EQ(watermark(s.ut), 0);
}

KEEL_TEST(process_kill_stops_it_and_destroy_frees_it)
{
    struct sup s;
    ASSERT_OK(sup_init(&s, PROC_BYTES));
    static const char *const argv[] = { "hello", "spin" };
    struct keel_process_config cfg = hello_cfg(&s, 2, argv);
    cfg.suspended = true;
    struct keel_process p;
    ASSERT_OK(keel_process_spawn(&cfg, &p));
    EXPECT_EQ(p.state, KEEL_PROCESS_READY);
    struct keel_tcb_info info;
    ASSERT_OK(keel_tcb_get_info(p.tcb, &info));
    EXPECT_EQ(info.state, KEEL_THREAD_INACTIVE);
    ASSERT_OK(keel_process_start(&p));
    for (int i = 0; i < 10; i++)
        keel_yield();
    ASSERT_OK(keel_tcb_get_info(p.tcb, &info));
    EXPECT_EQ(info.state, KEEL_THREAD_RUNNING);
    ASSERT_OK(keel_process_kill(&p));
    EXPECT_EQ(p.state, KEEL_PROCESS_KILLED);
    ASSERT_OK(keel_tcb_get_info(p.tcb, &info));
    EXPECT_EQ(info.state, KEEL_THREAD_INACTIVE);
    expect_gone(&s, &p);
    EXPECT_OK(keel_process_destroy(&p)); /* twice is harmless */
}
