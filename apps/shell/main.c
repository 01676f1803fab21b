/* shell: a line-oriented shell. It reads from the serial driver and the PS/2 keyboard driver at
 * once and writes to the serial driver, all through channels brokered by init (io.c); either
 * driver may be absent, die or restart. The commands are in cmds.c (`help` lists them).
 *
 * Line editing: printable characters insert at the cursor; Backspace (BS or DEL) deletes before
 * it, Delete (ESC [ 3 ~) under it; Left/Right (ESC [ D / ESC [ C) move, Home/End (ESC [ H / F,
 * also ESC O H / F) jump; Up/Down (ESC [ A / B) walk the history of the last HISTORY lines; Ctrl-U
 * clears the line, Ctrl-C abandons it. The keyboard driver sends its keys as the same sequences,
 * so both inputs edit alike; each input has its own escape-sequence state, so bytes of the two can
 * interleave without garbling a sequence. */
#include "io.h"
#include "shell.h"
#include <keel/process.h>
#include <keel/string.h>

#define HISTORY 16
#define ESC 0x1b

uint64_t init_cap;

static char history[HISTORY][LINE_MAX];
static unsigned hist_total; /* lines ever entered; the last HISTORY are kept */

static char line[LINE_MAX];
static size_t len, cur;
static unsigned hist_pos; /* = hist_total when not browsing */

struct esc_state {
    int stage;  /* 0 none, 1 after ESC, 2 after ESC [ or ESC O */
    int param;  /* the number in ESC [ n ~ */
};
static struct esc_state esc[IO_SOURCES];
static char last_end[IO_SOURCES]; /* the last CR or LF of each input, to take CR LF as one */

unsigned history_count(void)
{
    return hist_total < HISTORY ? hist_total : HISTORY;
}

const char *history_get(unsigned i)
{
    unsigned first = hist_total - history_count();
    return history[(first + i) % HISTORY];
}

static void out(const char *s, size_t n)
{
    io_write(s, n);
}

static void backspaces(size_t n)
{
    static const char bs[16] = "\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b";
    while (n) {
        size_t k = n < sizeof bs ? n : sizeof bs;
        out(bs, k);
        n -= k;
    }
}

/* Redraw from the cursor to the end, erase `extra` stale cells after it, and put the cursor back. */
static void redraw_tail(size_t extra)
{
    out(line + cur, len - cur);
    for (size_t i = 0; i < extra; i++)
        out(" ", 1);
    backspaces(len - cur + extra);
}

/* Replace the whole line (history): back to its start, write the new one, blank what is left. */
static void replace_line(const char *s)
{
    size_t old = len;
    backspaces(cur);
    len = cur = strlen(s);
    memcpy(line, s, len);
    out(line, len);
    size_t extra = old > len ? old - len : 0;
    for (size_t i = 0; i < extra; i++)
        out(" ", 1);
    backspaces(extra);
}

static void history_move(int dir)
{
    unsigned oldest = hist_total - history_count();
    if (dir < 0 && hist_pos > oldest) {
        hist_pos--;
        replace_line(history[hist_pos % HISTORY]);
    } else if (dir > 0 && hist_pos < hist_total) {
        hist_pos++;
        replace_line(hist_pos == hist_total ? "" : history[hist_pos % HISTORY]);
    }
}

static void enter(void)
{
    out("\r\n", 2);
    line[len] = 0;
    bool blank = true;
    for (size_t i = 0; i < len; i++)
        blank &= line[i] == ' ' || line[i] == '\t';
    if (!blank && (hist_total == 0 || strcmp(history[(hist_total - 1) % HISTORY], line) != 0))
        memcpy(history[hist_total++ % HISTORY], line, len + 1);
    hist_pos = hist_total;
    char copy[LINE_MAX];
    memcpy(copy, line, len + 1);
    len = cur = 0;
    run_line(copy);
    out(PROMPT, sizeof PROMPT - 1);
}

static void insert(char c)
{
    if (len + 1 >= LINE_MAX)
        return;
    memmove(line + cur + 1, line + cur, len - cur);
    line[cur++] = c;
    len++;
    out(&c, 1);
    if (cur < len)
        redraw_tail(0);
}

static void delete_at_cursor(void)
{
    if (cur == len)
        return;
    memmove(line + cur, line + cur + 1, len - cur - 1);
    len--;
    redraw_tail(1);
}

/* The final byte of an escape sequence. */
static void escape(char final, int param)
{
    switch (final) {
    case 'A': history_move(-1); break;
    case 'B': history_move(1); break;
    case 'C':
        if (cur < len)
            out(&line[cur++], 1);
        break;
    case 'D':
        if (cur) {
            cur--;
            out("\b", 1);
        }
        break;
    case 'H': backspaces(cur); cur = 0; break;
    case 'F': out(line + cur, len - cur); cur = len; break;
    case '~':
        if (param == 3)
            delete_at_cursor();
        break;
    default: break; /* other keys (F1...) do nothing */
    }
}

static void key(enum io_source src, char c)
{
    struct esc_state *e = &esc[src];
    if (e->stage == 1) {
        e->stage = (c == '[' || c == 'O') ? 2 : 0;
        e->param = 0;
        return;
    }
    if (e->stage == 2) {
        if (c >= '0' && c <= '9') {
            e->param = e->param * 10 + (c - '0');
            return;
        }
        e->stage = 0;
        escape(c, e->param);
        return;
    }
    char prev = last_end[src];
    last_end[src] = (c == '\r' || c == '\n') ? c : 0;
    if (c == '\n' && prev == '\r')
        return; /* CR LF is one end of line */
    if (c == ESC) {
        e->stage = 1;
    } else if (c == '\r' || c == '\n') {
        enter();
    } else if (c == 0x7f || c == '\b') {
        if (cur) {
            cur--;
            out("\b", 1);
            delete_at_cursor();
        }
    } else if (c == 0x15) { /* Ctrl-U */
        replace_line("");
    } else if (c == 0x03) { /* Ctrl-C */
        out("^C\r\n" PROMPT, 4 + sizeof PROMPT - 1);
        len = cur = 0;
        hist_pos = hist_total;
    } else if (c >= ' ' && c < 0x7f) {
        insert(c);
    }
}

int main(void)
{
    init_cap = keel_startinfo_cap("init");
    if (!init_cap) {
        keel_printf("shell: no 'init' cap\n");
        return 1;
    }
    io_init(init_cap);
    /* keel_printf goes to the kernel log (serial once the console owns the screen). */
    keel_printf("shell: ready; input from the serial console and the PS/2 keyboard, output to the serial console "
                "and the screen (console %s)\n", io_console_state());
    say("\nKeel shell. Type 'help'. In: serial console + PS/2 keyboard. Out: serial console + screen.\n"
        PROMPT);
    for (;;) {
        char in[64];
        enum io_source from;
        size_t got = io_read(in, sizeof in, &from);
        for (size_t i = 0; i < got; i++)
            key(from, in[i]);
    }
}
