/* The shell's terminal: input merged from the serial driver's and the keyboard driver's channels,
 * output to the serial driver's and the console's (the screen). Any of them may be missing, die or
 * restart at any time: the shell reopens a channel whenever it wakes and the service is there
 * again (init sets KEEL_INIT_CLIENT_NEWS when a server starts), and output written while a service
 * is missing is dropped there rather than waited for. */
#ifndef SHELL_IO_H
#define SHELL_IO_H

#include <stddef.h>
#include <stdint.h>

enum io_source { IO_SERIAL, IO_KEYBOARD, IO_SOURCES };

void io_init(uint64_t init_cap);
/* Block until some input arrives; returns its byte count (> 0) and where it came from. */
size_t io_read(char *buf, size_t max, enum io_source *from);
void io_write(const char *s, size_t n);
/* "connected" or "not connected", for the shell's status lines. */
const char *io_state(enum io_source s);
const char *io_console_state(void);

#endif
