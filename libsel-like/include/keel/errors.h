/* Names for error codes, for messages and test output. */
#ifndef KEEL_ERRORS_H
#define KEEL_ERRORS_H

#include <keel/abi.h>

/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN_ERROR" for codes abi.h does not define. */
const char *keel_strerror(int err);
/* "INVALID_ROOT", "MISSING_CAP", ...; "NONE" for 0. */
const char *keel_lookup_failure_name(uint64_t failure);
/* "UNTYPED", "TCB", ..., "DEBUG"; "NULL" for 0. */
const char *keel_cap_type_name(uint64_t type);

#endif
