/* main() for test_channel_tsan: the two-thread channel tests of test_channel_threads.c, built
 * with -fsanitize=thread (registered as host.channel_tsan). */
#define CHECK_MAIN
#include "check.h"
