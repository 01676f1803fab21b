/* The null driver's channel protocol (servers/null). A client opens a channel to the service
 * "null" (through init, keel/initsvc.h) and submits requests (struct keel_channel_desc). The
 * driver touches no device: it exists to exercise channels end to end (keeltest's channel tests,
 * the tutorial in docs/tutorial.md). Every request it takes is completed exactly once:
 *   KEEL_NULL_NOP     status 0, length 0.
 *   KEEL_NULL_ECHO    reads the buffer [offset, offset + length), writes each byte back inverted,
 *                     and completes with length = the request's length and
 *                     status = keel_null_echo_status(tag, keel_null_sum(the bytes it read)),
 *                     so a client can check that a completion was computed from its own request.
 *   KEEL_NULL_HOLD    kept pending (a slow device) until a RELEASE arrives; then status 0. At most
 *                     KEEL_NULL_MAX_HELD per channel: more complete at once with KEEL_CHANNEL_AGAIN.
 *   KEEL_NULL_RELEASE completes the held requests, then itself with status = how many it released.
 *   KEEL_NULL_EXIT    the driver exits at once (status 0), completing nothing: a driver dying
 *                     under its clients, for trying out their peer-gone handling.
 *   KEEL_NULL_SUBSCRIBE  a subscription to this client's events (keel/service.h, "Events"): kept
 *                     until one happens, then completed with status = events missed before it and
 *                     the event's number (uint64_t, counting from 1) in its buffer (length 8, if
 *                     the buffer holds 8 bytes). A second one while one is outstanding: BUSY.
 *   KEEL_NULL_FIRE    makes `flags` events happen now (a device with news); status = flags.
 * Any other opcode completes with status KEEL_CHANNEL_EINVAL. */
#ifndef KEEL_NULL_H
#define KEEL_NULL_H

#include <stdint.h>

// tutorial:protocol
#define KEEL_NULL_SERVICE "null"
#define KEEL_NULL_NOP 1u
#define KEEL_NULL_ECHO 2u
#define KEEL_NULL_HOLD 3u
#define KEEL_NULL_RELEASE 4u
#define KEEL_NULL_EXIT 5u
#define KEEL_NULL_MAX_HELD 32u
#define KEEL_NULL_SUBSCRIBE 6u
#define KEEL_NULL_FIRE 7u
// tutorial:end

/* FNV-1a over the bytes: cheap, and any changed byte changes it. */
static inline uint32_t keel_null_sum(const uint8_t *p, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* The ECHO status: the sum mixed with the tag the driver saw, kept non-negative (a negative
 * status means an error). */
static inline int32_t keel_null_echo_status(uint64_t tag, uint32_t sum)
{
    return (int32_t)((sum ^ (uint32_t)tag ^ (uint32_t)(tag >> 32)) & 0x7fffffffu);
}

#endif
