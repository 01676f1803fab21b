/* The PS/2 keyboard driver's channel protocol (servers/ps2kbd). A client opens a channel to the
 * service "keyboard" through init (keel/initsvc.h) and submits requests (struct keel_channel_desc):
 *   KEEL_KEYBOARD_READ:        read up to `length` bytes of typed text into the data area at
 *                              `offset`; completes once at least one byte is there (status =
 *                              length = bytes). The opcode and its shape are those of
 *                              KEEL_SERIAL_READ, so a client reads both devices the same way.
 *                              The text is what a VT100-style terminal would send: Enter is CR,
 *                              Backspace is DEL (0x7f), Ctrl+letter the control code, and the
 *                              cursor and editing keys are escape sequences (KEEL_KEYBOARD_SEQ_*).
 *   KEEL_KEYBOARD_READ_EVENTS: read up to length / 4 key events (struct keel_key_event, every
 *                              press and release, with the modifier state) into the data area;
 *                              completes once at least one is there (status = events, length =
 *                              bytes).
 * Text and events are kept in two separate queues (each drops new input while full); a client
 * that wants only one of them never sees the other. */
#ifndef KEEL_KEYBOARD_H
#define KEEL_KEYBOARD_H

#include <stdint.h>

#define KEEL_KEYBOARD_SERVICE "keyboard"
#define KEEL_KEYBOARD_READ 2u
#define KEEL_KEYBOARD_READ_EVENTS 3u

/* A key code is the key's scan code set 1 make code (1..0x58), with 0x80 added for the keys that
 * come with an 0xE0 prefix. The ones a client is most likely to want by name: */
enum keel_key_code {
    KEEL_KEY_ESC = 0x01,
    KEEL_KEY_BACKSPACE = 0x0e,
    KEEL_KEY_TAB = 0x0f,
    KEEL_KEY_ENTER = 0x1c,
    KEEL_KEY_LCTRL = 0x1d,
    KEEL_KEY_LSHIFT = 0x2a,
    KEEL_KEY_RSHIFT = 0x36,
    KEEL_KEY_LALT = 0x38,
    KEEL_KEY_SPACE = 0x39,
    KEEL_KEY_CAPSLOCK = 0x3a,
    KEEL_KEY_F1 = 0x3b,
    KEEL_KEY_KP_ENTER = 0x80 | 0x1c,
    KEEL_KEY_RCTRL = 0x80 | 0x1d,
    KEEL_KEY_RALT = 0x80 | 0x38,
    KEEL_KEY_HOME = 0x80 | 0x47,
    KEEL_KEY_UP = 0x80 | 0x48,
    KEEL_KEY_PAGE_UP = 0x80 | 0x49,
    KEEL_KEY_LEFT = 0x80 | 0x4b,
    KEEL_KEY_RIGHT = 0x80 | 0x4d,
    KEEL_KEY_END = 0x80 | 0x4f,
    KEEL_KEY_DOWN = 0x80 | 0x50,
    KEEL_KEY_PAGE_DOWN = 0x80 | 0x51,
    KEEL_KEY_INSERT = 0x80 | 0x52,
    KEEL_KEY_DELETE = 0x80 | 0x53,
};

/* Flags of a key event: the transition, then the modifiers as they are after it. */
#define KEEL_KEY_RELEASED (1u << 0)
#define KEEL_KEY_SHIFT (1u << 1)
#define KEEL_KEY_CTRL (1u << 2)
#define KEEL_KEY_ALT (1u << 3)
#define KEEL_KEY_CAPS (1u << 4) /* caps lock on */

struct keel_key_event {
    uint8_t code;  /* enum keel_key_code (set 1 make code, | 0x80 for E0 keys) */
    uint8_t flags; /* KEEL_KEY_* */
    uint8_t ch;    /* the character a press types (0 for none, and for releases) */
    uint8_t reserved;
};
_Static_assert(sizeof(struct keel_key_event) == 4, "key events are 4 bytes in the data area");

/* Escape sequences the text stream carries for the cursor and editing keys. */
#define KEEL_KEYBOARD_SEQ_UP "\x1b[A"
#define KEEL_KEYBOARD_SEQ_DOWN "\x1b[B"
#define KEEL_KEYBOARD_SEQ_RIGHT "\x1b[C"
#define KEEL_KEYBOARD_SEQ_LEFT "\x1b[D"
#define KEEL_KEYBOARD_SEQ_HOME "\x1b[H"
#define KEEL_KEYBOARD_SEQ_END "\x1b[F"
#define KEEL_KEYBOARD_SEQ_DELETE "\x1b[3~"

#endif
