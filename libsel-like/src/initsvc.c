/* init's process table on the wire (KEEL_INIT_PS) and on screen: one row layout and one column set
 * for init's log table and the shell's ps (keel/initsvc.h). */
#include <keel/initsvc.h>
#include <keel/stdio.h>

static void pack_text(struct keel_msg *m, unsigned first_mr, unsigned words, const char *text)
{
    size_t n = strlen(text), room = 8 * (size_t)words - 1;
    for (unsigned i = 0; i < words; i++) {
        char chunk[8] = { 0 };
        for (unsigned b = 0; b < 8 && 8 * i + b < n && 8 * i + b < room; b++)
            chunk[b] = text[8 * i + b];
        uint64_t w;
        memcpy(&w, chunk, 8);
        keel_msg_set_mr(m, first_mr + i, w);
    }
}

static void unpack_text(const struct keel_msg *m, unsigned first_mr, unsigned words, char *out)
{
    for (unsigned i = 0; i < words; i++) {
        uint64_t w = keel_msg_get_mr(m, first_mr + i);
        memcpy(out + 8 * i, &w, 8);
    }
    out[8 * words - 1] = 0;
}

void keel_init_ps_pack(struct keel_msg *m, const struct keel_init_ps_row *r)
{
    keel_msg_set_mr(m, 1, r->pid);
    keel_msg_set_mr(m, 2, r->state);
    keel_msg_set_mr(m, 3, r->restarts);
    keel_msg_set_mr(m, 4, r->limit);
    keel_msg_set_mr(m, 5, r->memory);
    pack_text(m, 6, 4, r->name);
    pack_text(m, 10, 4, r->program);
    pack_text(m, 14, 2, r->policy);
    pack_text(m, 16, 8, r->event);
}

void keel_init_ps_unpack(const struct keel_msg *m, struct keel_init_ps_row *r)
{
    r->pid = keel_msg_get_mr(m, 1);
    r->state = keel_msg_get_mr(m, 2);
    r->restarts = keel_msg_get_mr(m, 3);
    r->limit = keel_msg_get_mr(m, 4);
    r->memory = keel_msg_get_mr(m, 5);
    unpack_text(m, 6, 4, r->name);
    unpack_text(m, 10, 4, r->program);
    unpack_text(m, 14, 2, r->policy);
    unpack_text(m, 16, 8, r->event);
}

const char *keel_init_state_name(uint64_t state)
{
    static const char *const names[] = { "new", "running", "exited", "crashed", "failed", "killed" };
    return state < sizeof names / sizeof names[0] ? names[state] : "?";
}

#define ROW_FORMAT "%-12s %5s %-8s %-8s %-9s %7s  %-12s %s"

int keel_init_ps_header(char *buf, size_t size)
{
    return keel_snprintf(buf, size, ROW_FORMAT, "NAME", "PID", "STATE", "RESTARTS", "POLICY", "MEMORY", "PROGRAM",
                         "LAST EVENT");
}

int keel_init_ps_format(char *buf, size_t size, const struct keel_init_ps_row *r)
{
    char pid[24], restarts[24] = "-", memory[24] = "-";
    keel_snprintf(pid, sizeof pid, "%llu", (unsigned long long)r->pid);
    if (r->limit) /* init itself (row 0) has no restart policy and no memory of its own */
        keel_snprintf(restarts, sizeof restarts, "%llu/%llu", (unsigned long long)r->restarts,
                      (unsigned long long)r->limit);
    if (r->memory)
        keel_snprintf(memory, sizeof memory, "%lluK", (unsigned long long)(r->memory >> 10));
    return keel_snprintf(buf, size, ROW_FORMAT, r->name, pid, keel_init_state_name(r->state), restarts,
                         r->policy[0] ? r->policy : "-", memory, r->program, r->event[0] ? r->event : "-");
}
