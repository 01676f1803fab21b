/* The object harness driven by a seeded xorshift generator instead of libFuzzer: the same
 * operations (world.h), drawn with world_op_weight, in runs of --steps operations on a fresh world,
 * for --runs runs from --seed. Deterministic: a failure prints the seed, run and step, and
 *   gen_objects --seed S --first-run R --runs 1 --trace
 * replays the failing run with every operation printed. --write-corpus DIR writes each run's
 * bytes as a libFuzzer input instead of running it. */
#define _POSIX_C_SOURCE 200809L
#include "world.h"
#include <sanitizer/common_interface_defs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t state;

static uint64_t next(void)
{
    /* xorshift64* */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dull;
}

static unsigned weighted_op(void)
{
    unsigned total = 0;
    for (unsigned i = 0; i < WORLD_OP_COUNT; i++)
        total += world_op_weight[i];
    unsigned r = (unsigned)(next() % total);
    for (unsigned i = 0; i < WORLD_OP_COUNT; i++) {
        if (r < world_op_weight[i])
            return i;
        r -= world_op_weight[i];
    }
    return 0;
}

/* One operation's bytes: the opcode (its high bit varies the fastpath's address-space switch),
 * then three random argument bytes. */
static void draw(uint8_t op[WORLD_OP_BYTES])
{
    uint64_t r = next();
    op[0] = (uint8_t)(weighted_op() + ((r >> 40) & 1 ? 0x80 : 0));
    op[1] = (uint8_t)r;
    op[2] = (uint8_t)(r >> 8);
    op[3] = (uint8_t)(r >> 16);
}

static void seed_run(uint64_t seed, unsigned long run)
{
    state = (seed * 0x9e3779b97f4a7c15ull) ^ (run * 0xbf58476d1ce4e5b9ull) ^ 0x6a09e667f3bcc909ull;
    if (!state)
        state = 1;
    for (int i = 0; i < 8; i++)
        next();
}

static void usage(void)
{
    fprintf(stderr, "usage: gen_objects [--seed N] [--runs N] [--first-run N] [--steps N] [--trace]\n"
                    "                   [--write-corpus DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    unsigned long runs = 1000, first = 0, steps = 2000;
    const char *corpus = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--trace"))
            world_trace = true;
        else if (i + 1 < argc && !strcmp(argv[i], "--seed"))
            seed = strtoull(argv[++i], 0, 0);
        else if (i + 1 < argc && !strcmp(argv[i], "--runs"))
            runs = strtoul(argv[++i], 0, 0);
        else if (i + 1 < argc && !strcmp(argv[i], "--first-run"))
            first = strtoul(argv[++i], 0, 0);
        else if (i + 1 < argc && !strcmp(argv[i], "--steps"))
            steps = strtoul(argv[++i], 0, 0);
        else if (i + 1 < argc && !strcmp(argv[i], "--write-corpus"))
            corpus = argv[++i];
        else
            usage();
    }
    /* An ASan or UBSan report ends the process: say which run and step it was. */
    __sanitizer_set_death_callback(world_print_recent);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned long run = first; run < first + runs; run++) {
        seed_run(seed, run);
        if (corpus) {
            char path[4096];
            snprintf(path, sizeof path, "%s/gen-%llu-%lu", corpus, (unsigned long long)seed, run);
            FILE *f = fopen(path, "wb");
            if (!f) {
                perror(path);
                return 1;
            }
            for (unsigned long s = 0; s < steps; s++) {
                uint8_t op[WORLD_OP_BYTES];
                draw(op);
                fwrite(op, 1, sizeof op, f);
            }
            fclose(f);
            continue;
        }
        snprintf(world_origin, sizeof world_origin, "seed %llu run %lu", (unsigned long long)seed, run);
        world_reset();
        for (unsigned long s = 0; s < steps; s++) {
            uint8_t op[WORLD_OP_BYTES];
            draw(op);
            world_step(op);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (!corpus)
        printf("gen_objects: seed %llu, runs %lu-%lu, %lu steps each: %lu operations in %.2f s (%.0f/s), "
               "no findings\n",
               (unsigned long long)seed, first, first + runs - 1, steps, runs * steps, secs,
               (double)(runs * steps) / (secs > 0 ? secs : 1));
    return 0;
}
