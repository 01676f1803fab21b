/* The console server's channel protocol (servers/console) and how init hands it the screen.
 *
 * A client opens a channel to the service "console" through init (keel/initsvc.h) and submits
 *   KEEL_CONSOLE_WRITE: draw `length` bytes from the data area at `offset` at the cursor;
 *                       completes once they are drawn (status = bytes drawn).
 * The request has the shape of keel/serial.h's WRITE (same opcode value), so a client writes to
 * both with the same code. Bytes: printable ASCII, \n (next line), \r (line start), \b (one column
 * back), \t (next multiple of 8 columns); anything else is drawn as a box. Other opcodes complete
 * with KEEL_CHANNEL_EINVAL.
 *
 * The screen (manifest caps=screen, servers/init/README.md): init maps the screen memory into the
 * process at KEEL_CONSOLE_SCREEN_VA (plus the offset of the screen in its first page) and appends
 * one argument, KEEL_CONSOLE_SCREEN_ARG followed by comma-separated key=value pairs:
 *   type=text|rgb  width=N height=N  (cells for text, pixels for rgb)  pitch=BYTES  bpp=N
 *   red=POS/SIZE green=POS/SIZE blue=POS/SIZE  (rgb colour fields)  va=ADDRESS  size=BYTES
 * e.g. "--screen=type=rgb,width=1280,height=800,pitch=5120,bpp=32,red=16/8,green=8/8,blue=0/8,
 * va=0x480000000000,size=4096000". */
#ifndef KEEL_CONSOLE_H
#define KEEL_CONSOLE_H

#include <keel/serial.h>

#define KEEL_CONSOLE_SERVICE "console"
#define KEEL_CONSOLE_WRITE KEEL_SERIAL_WRITE
#define KEEL_CONSOLE_SCREEN_ARG "--screen="
#define KEEL_CONSOLE_SCREEN_VA 0x0000480000000000ull

#endif
