/* Between the runner (main.c) and the helpers (ktest.c). */
#ifndef KTEST_RUNNER_H
#define KTEST_RUNNER_H

void ktest_record_failure(const char *file, int line, const char *msg);
void kt_threads_reset(void);

#endif
