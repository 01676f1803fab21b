/* Kernel command line parser. One table lists every option; a bad word is reported and skipped
 * so that a typo never stops the machine from booting. */
#include "cmdline.h"

enum opt_kind { OPT_LOG_LEVEL, OPT_TRISTATE, OPT_FLAG, OPT_UINT };

struct option {
    const char *name;
    enum opt_kind kind;
    size_t offset; /* of the field in struct kernel_options; its type follows from kind */
    uint32_t min, max;
};

#define FIELD(f) offsetof(struct kernel_options, f)

static const struct option options[] = {
    { "log", OPT_LOG_LEVEL, FIELD(log_level), 0, 0 },
    { "pcid", OPT_TRISTATE, FIELD(pcid), 0, 0 },
    { "invpcid", OPT_TRISTATE, FIELD(invpcid), 0, 0 },
    { "pku", OPT_TRISTATE, FIELD(pku), 0, 0 },
    { "smep", OPT_TRISTATE, FIELD(smep), 0, 0 },
    { "smap", OPT_TRISTATE, FIELD(smap), 0, 0 },
    { "umip", OPT_TRISTATE, FIELD(umip), 0, 0 },
    { "fastpath", OPT_TRISTATE, FIELD(fastpath), 0, 0 },
    { "selftest", OPT_FLAG, FIELD(selftest), 0, 0 },
    { "quiet", OPT_FLAG, FIELD(quiet_boot), 0, 0 },
    { "test_panic", OPT_FLAG, FIELD(test_panic), 0, 0 },
    { "timer_hz", OPT_UINT, FIELD(timer_hz), CMDLINE_TIMER_HZ_MIN, CMDLINE_TIMER_HZ_MAX },
    { "lockwatch", OPT_UINT, FIELD(lockwatch_ms), 0, 60000 },
};

/* Indexed by enum log_level. */
static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };
#define LEVELS_EXPECTED "error|warn|info|debug|trace"

/* Longest piece of a user's word quoted back in a message. */
#define QUOTE_MAX 40

void cmdline_defaults(struct kernel_options *o)
{
    *o = (struct kernel_options){
        .log_level = LOG_INFO,
        .pcid = TRI_AUTO,
        .invpcid = TRI_AUTO,
        .pku = TRI_AUTO,
        .smep = TRI_AUTO,
        .smap = TRI_AUTO,
        .umip = TRI_AUTO,
        .fastpath = TRI_AUTO,
        .selftest = false,
        .quiet_boot = false,
        .test_panic = false,
        .timer_hz = 100,
        .lockwatch_ms = 1000,
    };
}

/* Appends one message; once the buffer is full its tail becomes "..." so truncation shows. */
__attribute__((format(printf, 2, 3))) static void report(struct diag *d, const char *fmt, ...)
{
    if (!d)
        return;
    const size_t cap = sizeof d->msg;
    size_t used = strnlen(d->msg, cap - 1);
    size_t want = 0;
    if (used + 1 < cap) {
        char *dst = d->msg + used;
        size_t room = cap - used;
        size_t sep = used ? 2 : 0;
        if (sep)
            ksnprintf(dst, room, "; ");
        if (sep < room) {
            va_list ap;
            va_start(ap, fmt);
            int n = kvsnprintf(dst + sep, room - sep, fmt, ap);
            va_end(ap);
            want = used + sep + (size_t)(n > 0 ? n : 0);
        } else {
            want = cap; /* the separator alone filled it */
        }
        if (want < cap)
            return;
    }
    memcpy(d->msg + cap - 4, "...", 4);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool word_is(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static bool has_dot(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '.')
            return true;
    return false;
}

static const struct option *find_option(const char *key, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(options); i++)
        if (word_is(key, len, options[i].name))
            return &options[i];
    return NULL;
}

static void report_unknown(struct diag *d, const char *key, size_t len)
{
    char known[128];
    size_t at = 0;
    for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
        int n = ksnprintf(known + at, sizeof known - at, "%s%s", i ? " " : "", options[i].name);
        at = MIN(at + (size_t)n, sizeof known - 1);
    }
    report(d, "cmdline: unknown option '%.*s' (known: %s)", (int)MIN(len, (size_t)QUOTE_MAX), key,
           known);
}

/* Decimal only; saturates at UINT64_MAX so that overflow reads as out of range. */
static bool parse_uint(const char *s, size_t len, uint64_t *out)
{
    if (len == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned digit = (unsigned)(s[i] - '0');
        v = v > (UINT64_MAX - digit) / 10 ? UINT64_MAX : v * 10 + digit;
    }
    *out = v;
    return true;
}

/* Returns 1 on a problem (already reported), 0 when the option was applied. */
static int apply(const struct option *opt, const char *word, size_t word_len, const char *val,
                 size_t val_len, bool has_val, struct kernel_options *o, struct diag *d)
{
    char *field = (char *)o + opt->offset;
    int wl = (int)MIN(word_len, (size_t)QUOTE_MAX);
    switch (opt->kind) {
    case OPT_LOG_LEVEL:
        if (!has_val || val_len == 0) {
            report(d, "cmdline: %s: missing value, expected " LEVELS_EXPECTED, opt->name);
            return 1;
        }
        for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
            if (word_is(val, val_len, level_names[i])) {
                *(enum log_level *)field = (enum log_level)i;
                return 0;
            }
        }
        report(d, "cmdline: %.*s: expected " LEVELS_EXPECTED, wl, word);
        return 1;
    case OPT_TRISTATE:
        if (!has_val || val_len == 0) {
            report(d, "cmdline: %s: missing value, expected on|off|auto", opt->name);
            return 1;
        }
        if (word_is(val, val_len, "on"))
            *(enum tristate *)field = TRI_ON;
        else if (word_is(val, val_len, "off"))
            *(enum tristate *)field = TRI_OFF;
        else if (word_is(val, val_len, "auto"))
            *(enum tristate *)field = TRI_AUTO;
        else {
            report(d, "cmdline: %.*s: expected on|off|auto", wl, word);
            return 1;
        }
        return 0;
    case OPT_FLAG:
        if (!has_val || word_is(val, val_len, "1"))
            *(bool *)field = true;
        else if (word_is(val, val_len, "0"))
            *(bool *)field = false;
        else {
            report(d, "cmdline: %.*s: '%s' is a flag and takes no value (or =1/=0)", wl, word,
                   opt->name);
            return 1;
        }
        return 0;
    case OPT_UINT: {
        uint64_t v;
        if (!has_val || val_len == 0) {
            report(d, "cmdline: %s: missing value, expected a number %u..%u", opt->name,
                   opt->min, opt->max);
            return 1;
        }
        if (!parse_uint(val, val_len, &v)) {
            report(d, "cmdline: %.*s: expected a number %u..%u", wl, word, opt->min, opt->max);
            return 1;
        }
        if (v < opt->min || v > opt->max) {
            report(d, "cmdline: %.*s: out of range %u..%u", wl, word, opt->min, opt->max);
            return 1;
        }
        *(uint32_t *)field = (uint32_t)v;
        return 0;
    }
    }
    return 1;
}

int cmdline_parse(const char *cmdline, struct kernel_options *o, struct diag *d)
{
    if (d)
        d->msg[0] = '\0';
    if (!cmdline)
        return 0;
    int problems = 0;
    const char *p = cmdline;
    for (;;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        const char *word = p;
        while (*p && !is_space(*p))
            p++;
        size_t word_len = (size_t)(p - word);
        size_t key_len = 0;
        while (key_len < word_len && word[key_len] != '=')
            key_len++;
        const char *eq = key_len < word_len ? word + key_len : NULL;
        if (key_len == 0) {
            report(d, "cmdline: '%.*s': empty option name", (int)MIN(word_len, (size_t)QUOTE_MAX),
                   word);
            problems++;
            continue;
        }
        /* PROGRAM.KEY[=VALUE] (init.manifest=..., fuzz.seed=...) is for a program: the root task
         * reads the whole line from its BootInfo. */
        if (has_dot(word, key_len))
            continue;
        const struct option *opt = find_option(word, key_len);
        if (!opt) {
            report_unknown(d, word, key_len);
            problems++;
            continue;
        }
        const char *val = eq ? eq + 1 : word + word_len;
        size_t val_len = (size_t)(word + word_len - val);
        problems += apply(opt, word, word_len, val, val_len, eq != NULL, o, d);
    }
    return problems;
}
