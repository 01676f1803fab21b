/* Scan code set 1 decoding for the PS/2 keyboard driver: bytes from the i8042 in, key events and
 * terminal text out. Pure code (no I/O), so it can be reasoned about on its own. */
#ifndef PS2KBD_KEYMAP_H
#define PS2KBD_KEYMAP_H

#include <keel/keyboard.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kbd_state {
    bool e0;               /* the last byte was the 0xE0 prefix */
    unsigned skip;         /* bytes of a Pause sequence (0xE1 ...) still to drop */
    bool lshift, rshift, lctrl, rctrl, lalt, ralt, caps;
};

/* Feed one byte from the controller. Returns true and fills *ev when it completes a key event;
 * ev->ch is the character a press types (0 if none). */
bool kbd_decode(struct kbd_state *s, uint8_t byte, struct keel_key_event *ev);

/* The text a key event stands for, as a terminal would send it (a character, a control code or an
 * escape sequence); 0 bytes for releases and keys without text. Returns the length (<= 8). */
size_t kbd_text(const struct keel_key_event *ev, char out[8]);

#endif
