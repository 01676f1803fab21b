/* The PS/2 keyboard driver's decoder (servers/ps2kbd/keymap.c): scan code set 1 bytes to key
 * events and terminal text — make/break, the E0 block, Pause, Shift/Ctrl/Caps Lock, and the bytes
 * that are not keys (ACKs, fake shifts). */
#define CHECK_MAIN
#include "check.h"
#include "keymap.h"

static struct kbd_state s;

/* Feed bytes; the text of the events they make, concatenated. */
static const char *type(const unsigned char *bytes, size_t n)
{
    static char out[64];
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        struct keel_key_event ev;
        if (kbd_decode(&s, bytes[i], &ev))
            at += kbd_text(&ev, out + at);
    }
    out[at] = 0;
    return out;
}
#define TYPE(...) type((const unsigned char[]){ __VA_ARGS__ }, sizeof((const unsigned char[]){ __VA_ARGS__ }))

TEST(letters_digits_and_breaks)
{
    s = (struct kbd_state){ 0 };
    /* h e l l o, each pressed and released, then 4 2, space, Enter */
    CHECK_EQ_STR(TYPE(0x23, 0xa3, 0x12, 0x92, 0x26, 0xa6, 0x26, 0xa6, 0x18, 0x98, 0x05, 0x85, 0x03, 0x83, 0x39,
                      0xb9, 0x1c, 0x9c),
                 "hello42 \r");
    CHECK_EQ_STR(TYPE(0x0e, 0x8e, 0x0f), "\x7f\t"); /* Backspace is DEL, Tab */
}

TEST(shift_ctrl_and_caps_lock)
{
    s = (struct kbd_state){ 0 };
    CHECK_EQ_STR(TYPE(0x2a, 0x23, 0xa3, 0x02, 0xaa, 0x23), "H!h"); /* left Shift held for h and 1 */
    CHECK_EQ_STR(TYPE(0x36, 0x0c, 0xb6, 0x0c), "_-");              /* right Shift */
    CHECK_EQ_STR(TYPE(0x3a, 0xba, 0x23, 0x02), "H1");              /* Caps Lock: letters only */
    CHECK_EQ_STR(TYPE(0x2a, 0x23, 0xaa), "h");                     /* Shift undoes Caps Lock */
    CHECK_EQ_STR(TYPE(0x3a, 0xba, 0x23), "h");                     /* pressed again: off */
    CHECK_EQ_STR(TYPE(0x1d, 0x2e, 0x16, 0x9d, 0x2e), "\x03\x15" "c"); /* Ctrl-C, Ctrl-U */
    CHECK_EQ_STR(TYPE(0xe0, 0x1d, 0x2e, 0xe0, 0x9d), "\x03");      /* right Ctrl (E0 1D) */
}

TEST(extended_keys_become_escape_sequences)
{
    s = (struct kbd_state){ 0 };
    CHECK_EQ_STR(TYPE(0xe0, 0x48, 0xe0, 0xc8, 0xe0, 0x50, 0xe0, 0x4d, 0xe0, 0x4b), "\x1b[A\x1b[B\x1b[C\x1b[D");
    CHECK_EQ_STR(TYPE(0xe0, 0x47, 0xe0, 0x4f, 0xe0, 0x53), "\x1b[H\x1b[F\x1b[3~");
    CHECK_EQ_STR(TYPE(0xe0, 0x1c, 0xe0, 0x35), "\r/"); /* keypad Enter and / */
    CHECK_EQ_STR(TYPE(0x48, 0x4b), "84");               /* the keypad's 8 and 4, without E0 */
}

TEST(events_carry_code_flags_and_character)
{
    s = (struct kbd_state){ 0 };
    struct keel_key_event ev;
    CHECK(!kbd_decode(&s, 0xe0, &ev));
    CHECK(kbd_decode(&s, 0x48, &ev));
    CHECK_EQ_U64(ev.code, KEEL_KEY_UP);
    CHECK_EQ_U64(ev.flags, 0);
    CHECK(kbd_decode(&s, 0x2a, &ev));
    CHECK_EQ_U64(ev.flags, KEEL_KEY_SHIFT);
    CHECK(kbd_decode(&s, 0x1e, &ev));
    CHECK_EQ_U64(ev.ch, 'A');
    CHECK(kbd_decode(&s, 0x9e, &ev));
    CHECK_EQ_U64(ev.flags, KEEL_KEY_SHIFT | KEEL_KEY_RELEASED);
    CHECK_EQ_U64(ev.ch, 0);
}

TEST(bytes_that_are_not_keys)
{
    s = (struct kbd_state){ 0 };
    CHECK_EQ_STR(TYPE(0xfa, 0xfe, 0x00, 0xff), "");                  /* ACK, resend, errors */
    CHECK_EQ_STR(TYPE(0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5, 0x1e), "a"); /* Pause is dropped whole */
    CHECK_EQ_STR(TYPE(0xe0, 0x2a, 0xe0, 0x48, 0x1e), "\x1b[Aa");      /* a fake shift changes nothing */
    CHECK_EQ_STR(TYPE(0x59, 0x7f, 0x1e), "a");                       /* codes past F12 */
}
