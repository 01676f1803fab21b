/* Scan code set 1 (what the i8042 delivers with translation on) to key events and text, for a US
 * layout. A make code is 1..0x58; its break code has bit 7 set; 0xE0 announces a key of the
 * extended block (arrows, the right-hand Ctrl/Alt, Home/End...), 0xE1 the Pause key's 6-byte
 * sequence, which has no break code and types nothing. */
#include "keymap.h"
#include <keel/string.h>

/* Characters without and with Shift, indexed by make code; 0 = no character. */
static const char plain[0x59] = {
    [0x01] = 0x1b, [0x02] = '1', [0x03] = '2', [0x04] = '3', [0x05] = '4', [0x06] = '5', [0x07] = '6',
    [0x08] = '7', [0x09] = '8', [0x0a] = '9', [0x0b] = '0', [0x0c] = '-', [0x0d] = '=', [0x0e] = 0x7f,
    [0x0f] = '\t', [0x10] = 'q', [0x11] = 'w', [0x12] = 'e', [0x13] = 'r', [0x14] = 't', [0x15] = 'y',
    [0x16] = 'u', [0x17] = 'i', [0x18] = 'o', [0x19] = 'p', [0x1a] = '[', [0x1b] = ']', [0x1c] = '\r',
    [0x1e] = 'a', [0x1f] = 's', [0x20] = 'd', [0x21] = 'f', [0x22] = 'g', [0x23] = 'h', [0x24] = 'j',
    [0x25] = 'k', [0x26] = 'l', [0x27] = ';', [0x28] = '\'', [0x29] = '`', [0x2b] = '\\', [0x2c] = 'z',
    [0x2d] = 'x', [0x2e] = 'c', [0x2f] = 'v', [0x30] = 'b', [0x31] = 'n', [0x32] = 'm', [0x33] = ',',
    [0x34] = '.', [0x35] = '/', [0x37] = '*', [0x39] = ' ', [0x47] = '7', [0x48] = '8', [0x49] = '9',
    [0x4a] = '-', [0x4b] = '4', [0x4c] = '5', [0x4d] = '6', [0x4e] = '+', [0x4f] = '1', [0x50] = '2',
    [0x51] = '3', [0x52] = '0', [0x53] = '.',
};
static const char shifted[0x59] = {
    [0x01] = 0x1b, [0x02] = '!', [0x03] = '@', [0x04] = '#', [0x05] = '$', [0x06] = '%', [0x07] = '^',
    [0x08] = '&', [0x09] = '*', [0x0a] = '(', [0x0b] = ')', [0x0c] = '_', [0x0d] = '+', [0x0e] = 0x7f,
    [0x0f] = '\t', [0x10] = 'Q', [0x11] = 'W', [0x12] = 'E', [0x13] = 'R', [0x14] = 'T', [0x15] = 'Y',
    [0x16] = 'U', [0x17] = 'I', [0x18] = 'O', [0x19] = 'P', [0x1a] = '{', [0x1b] = '}', [0x1c] = '\r',
    [0x1e] = 'A', [0x1f] = 'S', [0x20] = 'D', [0x21] = 'F', [0x22] = 'G', [0x23] = 'H', [0x24] = 'J',
    [0x25] = 'K', [0x26] = 'L', [0x27] = ':', [0x28] = '"', [0x29] = '~', [0x2b] = '|', [0x2c] = 'Z',
    [0x2d] = 'X', [0x2e] = 'C', [0x2f] = 'V', [0x30] = 'B', [0x31] = 'N', [0x32] = 'M', [0x33] = '<',
    [0x34] = '>', [0x35] = '?', [0x37] = '*', [0x39] = ' ',
};

static uint8_t modifiers(const struct kbd_state *s)
{
    return (uint8_t)(((s->lshift || s->rshift) ? KEEL_KEY_SHIFT : 0) | ((s->lctrl || s->rctrl) ? KEEL_KEY_CTRL : 0) |
                     ((s->lalt || s->ralt) ? KEEL_KEY_ALT : 0) | (s->caps ? KEEL_KEY_CAPS : 0));
}

static char character(const struct kbd_state *s, uint8_t code)
{
    if (code & 0x80) /* of the extended block only keypad Enter and keypad / type something */
        return code == KEEL_KEY_KP_ENTER ? '\r' : code == (0x80 | 0x35) ? '/' : 0;
    if (code >= sizeof plain)
        return 0;
    bool shift = s->lshift || s->rshift;
    char c = plain[code];
    bool letter = c >= 'a' && c <= 'z';
    if (letter ? shift != s->caps : shift) /* caps lock shifts letters only; Shift undoes it */
        c = shifted[code] ? shifted[code] : c;
    if ((s->lctrl || s->rctrl) && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        c = (char)(c & 0x1f);
    return c;
}

bool kbd_decode(struct kbd_state *s, uint8_t byte, struct keel_key_event *ev)
{
    if (s->skip) {
        s->skip--;
        return false;
    }
    if (byte == 0xe0) {
        s->e0 = true;
        return false;
    }
    if (byte == 0xe1) {
        s->skip = 5;
        s->e0 = false;
        return false;
    }
    bool ext = s->e0;
    s->e0 = false;
    bool released = byte & 0x80;
    uint8_t make = byte & 0x7f;
    /* Controller/keyboard replies (ACK 0xFA, resend 0xFE, errors 0x00/0xFF) and the fake shifts
     * some keyboards wrap around extended keys (E0 2A, E0 AA...) are not keys. */
    if (byte == 0xfa || byte == 0xfe || byte == 0x00 || byte == 0xff || make == 0 || make > 0x58)
        return false;
    if (ext && (make == KEEL_KEY_LSHIFT || make == KEEL_KEY_RSHIFT))
        return false;
    uint8_t code = (uint8_t)(make | (ext ? 0x80 : 0));
    bool down = !released;
    switch (code) {
    case KEEL_KEY_LSHIFT: s->lshift = down; break;
    case KEEL_KEY_RSHIFT: s->rshift = down; break;
    case KEEL_KEY_LCTRL: s->lctrl = down; break;
    case KEEL_KEY_RCTRL: s->rctrl = down; break;
    case KEEL_KEY_LALT: s->lalt = down; break;
    case KEEL_KEY_RALT: s->ralt = down; break;
    case KEEL_KEY_CAPSLOCK:
        if (down) /* typematic repeats come as more makes: each press toggles, repeats would too */
            s->caps = !s->caps;
        break;
    default: break;
    }
    *ev = (struct keel_key_event){ .code = code, .flags = (uint8_t)(modifiers(s) | (released ? KEEL_KEY_RELEASED : 0)),
                                   .ch = (uint8_t)(released ? 0 : character(s, code)) };
    return true;
}

size_t kbd_text(const struct keel_key_event *ev, char out[8])
{
    if (ev->flags & KEEL_KEY_RELEASED)
        return 0;
    const char *seq = 0;
    switch (ev->code) {
    case KEEL_KEY_UP: seq = KEEL_KEYBOARD_SEQ_UP; break;
    case KEEL_KEY_DOWN: seq = KEEL_KEYBOARD_SEQ_DOWN; break;
    case KEEL_KEY_RIGHT: seq = KEEL_KEYBOARD_SEQ_RIGHT; break;
    case KEEL_KEY_LEFT: seq = KEEL_KEYBOARD_SEQ_LEFT; break;
    case KEEL_KEY_HOME: seq = KEEL_KEYBOARD_SEQ_HOME; break;
    case KEEL_KEY_END: seq = KEEL_KEYBOARD_SEQ_END; break;
    case KEEL_KEY_DELETE: seq = KEEL_KEYBOARD_SEQ_DELETE; break;
    default: break;
    }
    if (seq) {
        size_t n = strlen(seq);
        memcpy(out, seq, n);
        return n;
    }
    if (!ev->ch)
        return 0;
    out[0] = (char)ev->ch;
    return 1;
}
