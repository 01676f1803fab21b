/* The report chanprobe (test_channel_probe.c) sends its supervisor. */
#ifndef KEELTEST_TEST_CHANNEL_PROBE_H
#define KEELTEST_TEST_CHANNEL_PROBE_H

#define CHANPROBE_REPORT 0x424f5250ull /* "PROB" */

#endif
