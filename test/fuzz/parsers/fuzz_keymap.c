/* kbd_decode and kbd_text (servers/ps2kbd/keymap.c) on any byte stream the i8042 might deliver,
 * checked against a small model of scan code set 1 written from the format (keymap.c's header):
 * which bytes make events, the E0 prefix, Pause's 6-byte sequence, and the modifier state. */
#include "fuzz_assert.h"
#include "keymap.h"
#include <string.h>

struct model {
    bool e0;
    unsigned skip;
    bool shift[2], ctrl[2], alt[2], caps;
};

/* The model's view of one byte: whether it makes an event, and the code. */
static bool model_step(struct model *m, uint8_t byte, uint8_t *code)
{
    if (m->skip) {
        m->skip--;
        return false;
    }
    if (byte == 0xe0 || byte == 0xe1) {
        m->e0 = byte == 0xe0;
        m->skip = byte == 0xe1 ? 5 : 0;
        return false;
    }
    bool ext = m->e0;
    m->e0 = false;
    uint8_t make = byte & 0x7f;
    if (byte == 0xfa || byte == 0xfe || make == 0 || make > 0x58) /* replies, errors, past F12 */
        return false;
    if (ext && (make == KEEL_KEY_LSHIFT || make == KEEL_KEY_RSHIFT)) /* fake shifts */
        return false;
    *code = (uint8_t)(make | (ext ? 0x80 : 0));
    bool down = !(byte & 0x80);
    switch (*code) {
    case KEEL_KEY_LSHIFT: m->shift[0] = down; break;
    case KEEL_KEY_RSHIFT: m->shift[1] = down; break;
    case KEEL_KEY_LCTRL: m->ctrl[0] = down; break;
    case KEEL_KEY_RCTRL: m->ctrl[1] = down; break;
    case KEEL_KEY_LALT: m->alt[0] = down; break;
    case KEEL_KEY_RALT: m->alt[1] = down; break;
    case KEEL_KEY_CAPSLOCK: m->caps ^= down; break;
    default: break;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kbd_state s = { 0 };
    struct model m = { 0 };
    for (size_t i = 0; i < size; i++) {
        struct keel_key_event ev;
        memset(&ev, 0xa5, sizeof ev);
        uint8_t code = 0;
        bool want = model_step(&m, data[i], &code);
        bool got = kbd_decode(&s, data[i], &ev);
        FUZZ_ASSERT(got == want);
        if (!got)
            continue;
        bool released = data[i] & 0x80;
        uint8_t mods = (uint8_t)((m.shift[0] || m.shift[1] ? KEEL_KEY_SHIFT : 0) |
                                 (m.ctrl[0] || m.ctrl[1] ? KEEL_KEY_CTRL : 0) |
                                 (m.alt[0] || m.alt[1] ? KEEL_KEY_ALT : 0) | (m.caps ? KEEL_KEY_CAPS : 0));
        FUZZ_ASSERT(ev.code == code);
        FUZZ_ASSERT(ev.flags == (mods | (released ? KEEL_KEY_RELEASED : 0)));
        if (released)
            FUZZ_ASSERT(ev.ch == 0);
        /* A character is ASCII; with Ctrl, letters become control codes. */
        FUZZ_ASSERT(ev.ch < 0x80);
        if (mods & KEEL_KEY_CTRL)
            FUZZ_ASSERT(!((ev.ch >= 'a' && ev.ch <= 'z') || (ev.ch >= 'A' && ev.ch <= 'Z')));
        char text[8]; /* the driver's buffer: exactly 8 bytes, so ASan sees an overflow */
        size_t n = kbd_text(&ev, text);
        FUZZ_ASSERT(n <= sizeof text);
        if (released)
            FUZZ_ASSERT(n == 0);
        else if (ev.ch && n)
            FUZZ_ASSERT(n == 1 ? (uint8_t)text[0] == ev.ch : text[0] == 0x1b);
        else
            FUZZ_ASSERT(n == 0 || text[0] == 0x1b); /* escape sequences only */
    }
    return 0;
}
