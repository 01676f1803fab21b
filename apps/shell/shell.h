/* The shell's parts: main.c (the line editor and its history), cmds.c (the commands), io.c (the
 * terminal: io.h). */
#ifndef SHELL_SHELL_H
#define SHELL_SHELL_H

#include <keel/stdio.h>
#include <stddef.h>
#include <stdint.h>

#define PROMPT "keel> "
#define LINE_MAX 128

extern uint64_t init_cap;

/* printf to the terminal, with "\n" sent as CR LF. */
void say(const char *fmt, ...) KEEL_PRINTF(1, 2);
/* Run one command line (it is cut into words in place). */
void run_line(char *line);
/* The history, oldest first, for the `history` command. */
unsigned history_count(void);
const char *history_get(unsigned i);

#endif
