/* Channel library with two real threads (a client and a server), doorbells through POSIX
 * semaphores. Built twice: in test_channel (ASan/UBSan) and alone in test_channel_tsan
 * (ThreadSanitizer), where the acquire/release protocol must show no data race on the
 * descriptors or the data area. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c17 */
#include "check.h"

#include "channel_fixture.h"

#include <keel/channel.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define N_REQUESTS 100000u
#define SLOT_BYTES 16u

struct run {
    void *region;
    size_t size;
    struct fx_sems sems;
    struct keel_channel cl, sv;
    struct keel_channel_inflight infl[64];
    /* server behaviour */
    uint64_t work_ns;        /* busy time per request */
    int reverse;             /* complete each batch in reverse order */
    uint32_t die_after;      /* 0: never; else stop after this many completions and "die" */
    uint32_t server_spin;    /* polls before sleeping */
    uint32_t client_spin;
    uint32_t reap_min;       /* client sleeps until this many completions are there */
    /* results */
    int server_rc;
    uint64_t server_bad_data;
};

static void busy_ns(uint64_t ns)
{
    if (!ns)
        return;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)(t.tv_nsec - t0.tv_nsec) < ns);
}

static int run_open(struct run *r, uint32_t sq, uint32_t cq)
{
    r->size = keel_channel_region_size(sq, cq, cq * SLOT_BYTES);
    r->region = fx_region_alloc(r->size);
    if (!r->region || fx_sems_init(&r->sems))
        return -1;
    struct keel_channel_config cfg = { sq, cq, cq * SLOT_BYTES, UINT32_MAX - 1000 };
    int rc = keel_channel_init(r->region, r->size, &cfg);
    if (!rc)
        rc = keel_channel_attach_server(&r->sv, r->region, r->size, &r->sems.ops[KEEL_CHANNEL_SERVER]);
    if (!rc)
        rc = keel_channel_attach_client(&r->cl, r->region, r->size, &r->sems.ops[KEEL_CHANNEL_CLIENT], r->infl, 64);
    return rc;
}

static void run_free(struct run *r)
{
    fx_sems_destroy(&r->sems);
    free(r->region);
}

/* Server: pop, check the request data, write the answer, complete. Returns on an error (the
 * client closing gives PEER_GONE). */
static void *server_main(void *arg)
{
    struct run *r = arg;
    struct keel_channel_desc d[8];
    uint32_t done = 0;
    for (;;) {
        int n = r->server_spin ? keel_channel_pop_poll(&r->sv, d, 8, r->server_spin) : 0;
        if (n == 0)
            n = keel_channel_pop_wait(&r->sv, d, 8);
        if (n < 0) {
            r->server_rc = n;
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            uint64_t *p = keel_channel_data(&r->sv, d[i].offset, 8);
            if (!p || *p != d[i].tag)
                r->server_bad_data++;
            else
                *p = d[i].tag * 3 + 1;
            busy_ns(r->work_ns);
            d[i].status = (int32_t)(d[i].tag & 0xFFFF);
            d[i].length = 8;
        }
        if (r->reverse)
            for (int i = 0; i < n / 2; i++) {
                struct keel_channel_desc t = d[i];
                d[i] = d[n - 1 - i];
                d[n - 1 - i] = t;
            }
        int k = n;
        if (r->die_after && done + (uint32_t)k >= r->die_after)
            k = (int)(r->die_after - done);
        if (k > 0) {
            int c = keel_channel_complete_wait(&r->sv, d, (uint32_t)k);
            if (c != k) {
                r->server_rc = c < 0 ? c : -1000;
                return NULL;
            }
            done += (uint32_t)k;
        }
        if (r->die_after && done >= r->die_after) {
            /* die holding the rest; the supervisor marks the channel and rings the client */
            keel_channel_region_mark_gone(r->region, KEEL_CHANNEL_SERVER);
            fx_sem_ring(&r->sems.ctx[KEEL_CHANNEL_SERVER]);
            r->server_rc = 0;
            return NULL;
        }
    }
}

struct client_result {
    uint64_t submitted, completed, failed, bad;
    int final_rc;
};

static void check_completion(struct run *r, const struct keel_channel_desc *c, uint32_t total, int in_order,
                             uint8_t *seen, struct client_result *res)
{
    uint64_t tag = c->tag;
    uint64_t *p = keel_channel_data(&r->cl, c->offset, 8);
    if (tag >= total || seen[tag] || c->status != (int32_t)(tag & 0xFFFF) || c->length != 8 || !p ||
        *p != tag * 3 + 1 || (in_order && tag != res->completed))
        res->bad++;
    if (tag < total)
        seen[tag]++;
    res->completed++;
}

/* Client: keep as many requests in flight as the channel allows (batches of up to 8, each
 * buffer a data slot); check every completion. It polls both rings up to client_spin times
 * without progress, then sleeps in reap_wait. `in_order`: completions must come back in
 * submission order. */
static struct client_result client_run(struct run *r, uint32_t total, int in_order, uint8_t *seen)
{
    struct client_result res = { 0 };
    struct keel_channel_slots slots;
    keel_channel_slots_init(&slots, &r->cl, SLOT_BYTES);
    uint64_t next = 0;
    uint32_t idle = 0;
    struct keel_channel_desc c[64];
    while (res.completed < total) {
        /* submit a batch while there is room */
        struct keel_channel_desc b[8];
        uint32_t nb = 0;
        while (nb < 8 && next + nb < total) {
            uint32_t off;
            if (keel_channel_slots_alloc(&slots, &off))
                break;
            *(uint64_t *)keel_channel_data(&r->cl, off, 8) = next + nb;
            b[nb] = (struct keel_channel_desc){ .tag = next + nb, .opcode = 1, .offset = off, .length = SLOT_BYTES };
            nb++;
        }
        int q = nb ? keel_channel_submit_batch(&r->cl, b, nb) : 0;
        if (q < 0 && q != KEEL_CHANNEL_AGAIN && q != KEEL_CHANNEL_BUSY) {
            res.final_rc = q;
            goto gone;
        }
        uint32_t queued = q > 0 ? (uint32_t)q : 0;
        for (uint32_t i = queued; i < nb; i++)
            keel_channel_slots_free(&slots, b[i].offset);
        next += queued;
        int n = keel_channel_reap(&r->cl, c, 64);
        if (n == 0 && queued == 0) {
            if (idle++ < r->client_spin)
                continue;
            n = r->reap_min > 1 ? keel_channel_reap_wait_n(&r->cl, c, 64, r->reap_min)
                                : keel_channel_reap_wait(&r->cl, c, 64);
        }
        if (n < 0) {
            res.final_rc = n;
            goto gone;
        }
        if (n > 0 || queued)
            idle = 0;
        for (int i = 0; i < n; i++) {
            check_completion(r, &c[i], total, in_order, seen, &res);
            keel_channel_slots_free(&slots, c[i].offset);
        }
    }
    res.submitted = next;
    return res;
gone:
    res.submitted = next;
    /* the server went: everything in flight comes back exactly once */
    for (;;) {
        int n = keel_channel_fail_inflight(&r->cl, c, 16);
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++) {
            uint64_t tag = c[i].tag;
            if (tag >= total || seen[tag])
                res.bad++;
            else
                seen[tag]++;
            if (c[i].status == KEEL_CHANNEL_PEER_GONE)
                res.failed++;
            else if (c[i].status == (int32_t)(tag & 0xFFFF))
                res.completed++;
            else
                res.bad++;
        }
    }
    return res;
}

static void report(const char *name, struct run *r, const struct client_result *res)
{
    const struct keel_channel_stats *cs = keel_channel_get_stats(&r->cl), *ss = keel_channel_get_stats(&r->sv);
    uint64_t bells = cs->doorbells_sent + ss->doorbells_sent;
    printf("    %s: %" PRIu64 " requests; doorbells client->server %" PRIu64 " (suppressed %" PRIu64
           "), server->client %" PRIu64 " (suppressed %" PRIu64 "); waits %" PRIu64 "/%" PRIu64
           "; %.1f requests per doorbell\n",
           name, res->submitted, cs->doorbells_sent, cs->doorbells_suppressed, ss->doorbells_sent,
           ss->doorbells_suppressed, cs->waits, ss->waits,
           bells ? (double)res->submitted / (double)bells : (double)res->submitted);
}

static void run_stress(const char *name, uint32_t sq, uint32_t cq, uint64_t work_ns, uint32_t server_spin,
                       uint32_t client_spin, uint32_t reap_min, int reverse, uint32_t total, struct run *out_run, struct client_result *out_res)
{
    struct run *r = out_run;
    memset(r, 0, sizeof(*r));
    CHECK_EQ_U64(run_open(r, sq, cq), 0);
    r->work_ns = work_ns;
    r->server_spin = server_spin;
    r->client_spin = client_spin;
    r->reap_min = reap_min;
    r->reverse = reverse;
    uint8_t *seen = calloc(total, 1);
    pthread_t t;
    CHECK_EQ_U64(pthread_create(&t, NULL, server_main, r), 0);
    *out_res = client_run(r, total, !reverse, seen);
    keel_channel_close(&r->cl); /* the server sees PEER_GONE and returns */
    pthread_join(t, NULL);
    CHECK_EQ_U64(r->server_rc, (uint64_t)(int64_t)KEEL_CHANNEL_PEER_GONE);
    CHECK_EQ_U64(out_res->final_rc, 0);
    CHECK_EQ_U64(out_res->submitted, total);
    CHECK_EQ_U64(out_res->completed, total);
    CHECK_EQ_U64(out_res->bad, 0);
    CHECK_EQ_U64(r->server_bad_data, 0);
    uint64_t missing = 0;
    for (uint32_t i = 0; i < total; i++)
        missing += seen[i] != 1;
    CHECK_EQ_U64(missing, 0);
    CHECK_EQ_U64(keel_channel_inflight(&r->cl), 0);
    CHECK_EQ_U64(keel_channel_get_stats(&r->cl)->rejected, 0);
    CHECK_EQ_U64(keel_channel_get_stats(&r->sv)->rejected, 0);
    report(name, r, out_res);
    free(seen);
}

TEST(channel_threads_in_order)
{
    /* 4-entry rings: full, empty and wrap (indices start 1000 below 2^32) all the time */
    struct run r;
    struct client_result res;
    run_stress("in order, 4/4 rings, blocking", 4, 4, 0, 0, 0, 1, 0, N_REQUESTS, &r, &res);
    CHECK(atomic_load(&((struct keel_channel_header *)r.region)->sq_tail.v) < N_REQUESTS);
    run_free(&r);
}

TEST(channel_threads_out_of_order)
{
    struct run r;
    struct client_result res;
    run_stress("out of order, 4/8 rings, polling", 4, 8, 0, 200, 200, 1, 1, N_REQUESTS, &r, &res);
    run_free(&r);
}

TEST(channel_threads_busy_consumer_few_doorbells)
{
    /* The server spends ~10us per request and never polls. The client keeps up to 64 requests
     * in flight through a 32-entry submission ring and sleeps in reap_wait_n until 16
     * completions are there, then refills. The server finds work each time it pops, so it
     * never arms its event index and the client (almost) never rings; the server rings the
     * client once per 16 completions. This holds with one CPU or two: the backlog outlasts the
     * client's wake-up latency. (With 4-entry rings and a client woken per completion, as in
     * channel_threads_in_order, the server drains the ring while the client wakes up: ~4
     * requests per doorbell.) */
    struct run r;
    struct client_result res;
    run_stress("busy consumer, 32/64 rings", 32, 64, 10000, 0, 0, 16, 0, 20000, &r, &res);
    const struct keel_channel_stats *cs = keel_channel_get_stats(&r.cl), *ss = keel_channel_get_stats(&r.sv);
    CHECK(cs->doorbells_sent * 20 < res.submitted); /* client -> server: far below one per request */
    CHECK(ss->waits * 20 < res.submitted);          /* the server rarely slept */
    CHECK(ss->doorbells_sent * 8 < res.submitted);  /* server -> client: about one per 16 */
    run_free(&r);
}

TEST(channel_threads_server_dies_under_load)
{
    for (uint32_t die_after = 1; die_after <= 20001; die_after += 5000) {
        struct run *r = calloc(1, sizeof(*r));
        CHECK_EQ_U64(run_open(r, 4, 8), 0);
        r->die_after = die_after;
        uint8_t *seen = calloc(N_REQUESTS, 1);
        pthread_t t;
        CHECK_EQ_U64(pthread_create(&t, NULL, server_main, r), 0);
        struct client_result res = client_run(r, N_REQUESTS, 1, seen);
        pthread_join(t, NULL);
        CHECK_EQ_U64(r->server_rc, 0);
        CHECK_EQ_U64(res.final_rc, (uint64_t)(int64_t)KEEL_CHANNEL_PEER_GONE);
        CHECK_EQ_U64(res.bad, 0);
        CHECK_EQ_U64(res.completed, die_after);            /* every real completion delivered */
        CHECK_EQ_U64(res.completed + res.failed, res.submitted); /* the rest failed, none lost */
        uint64_t wrong = 0;
        for (uint32_t i = 0; i < N_REQUESTS; i++)
            wrong += seen[i] != (i < res.submitted ? 1 : 0);
        CHECK_EQ_U64(wrong, 0);
        CHECK_EQ_U64(keel_channel_inflight(&r->cl), 0);
        run_free(r);
        free(seen);
        free(r);
    }
}

static void *client_closes(void *arg)
{
    struct run *r = arg;
    busy_ns(100000000); /* 100 ms: time for the server to fall asleep even on a loaded host (TSan) */
    keel_channel_close(&r->cl);
    return NULL;
}

TEST(channel_threads_client_dies_while_server_sleeps)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    CHECK_EQ_U64(run_open(&r, 4, 4), 0);
    pthread_t t;
    CHECK_EQ_U64(pthread_create(&t, NULL, client_closes, &r), 0);
    struct keel_channel_desc d[4];
    CHECK_EQ_U64(keel_channel_pop_wait(&r.sv, d, 4), (uint64_t)(int64_t)KEEL_CHANNEL_PEER_GONE);
    pthread_join(t, NULL);
    CHECK(keel_channel_get_stats(&r.sv)->waits >= 1);
    run_free(&r);
}
