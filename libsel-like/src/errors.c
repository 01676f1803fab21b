/* Names for the ABI's enumerations. */
#include <keel/errors.h>
#include <stddef.h>

const char *keel_strerror(int err)
{
    static const char *const names[] = {
        [KEEL_OK] = "OK",
        [KEEL_E_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
        [KEEL_E_INVALID_CAPABILITY] = "INVALID_CAPABILITY",
        [KEEL_E_ILLEGAL_OPERATION] = "ILLEGAL_OPERATION",
        [KEEL_E_RANGE] = "RANGE",
        [KEEL_E_ALIGNMENT] = "ALIGNMENT",
        [KEEL_E_FAILED_LOOKUP] = "FAILED_LOOKUP",
        [KEEL_E_TRUNCATED_MESSAGE] = "TRUNCATED_MESSAGE",
        [KEEL_E_DELETE_FIRST] = "DELETE_FIRST",
        [KEEL_E_REVOKE_FIRST] = "REVOKE_FIRST",
        [KEEL_E_NOT_ENOUGH_MEMORY] = "NOT_ENOUGH_MEMORY",
        [KEEL_E_INSUFFICIENT_RIGHTS] = "INSUFFICIENT_RIGHTS",
        [KEEL_E_WOULD_BLOCK] = "WOULD_BLOCK",
        [KEEL_E_NOT_SUPPORTED] = "NOT_SUPPORTED",
        [KEEL_E_CANCELLED] = "CANCELLED",
        [KEEL_E_MAPPED] = "MAPPED",
        [KEEL_E_MISSING_TABLE] = "MISSING_TABLE",
        [KEEL_E_NO_ASID] = "NO_ASID",
    };
    _Static_assert(sizeof(names) / sizeof(names[0]) == KEEL_ERROR_COUNT, "a name for every error");
    if (err < 0 || err >= KEEL_ERROR_COUNT)
        return "UNKNOWN_ERROR";
    return names[err];
}

const char *keel_lookup_failure_name(uint64_t failure)
{
    switch (failure) {
    case 0: return "NONE";
    case KEEL_LOOKUP_INVALID_ROOT: return "INVALID_ROOT";
    case KEEL_LOOKUP_MISSING_CAP: return "MISSING_CAP";
    case KEEL_LOOKUP_DEPTH_MISMATCH: return "DEPTH_MISMATCH";
    case KEEL_LOOKUP_GUARD_MISMATCH: return "GUARD_MISMATCH";
    default: return "UNKNOWN_LOOKUP_FAILURE";
    }
}

const char *keel_cap_type_name(uint64_t type)
{
    switch (type) {
    case KEEL_CAP_NULL: return "NULL";
    case KEEL_OBJ_UNTYPED: return "UNTYPED";
    case KEEL_OBJ_TCB: return "TCB";
    case KEEL_OBJ_ENDPOINT: return "ENDPOINT";
    case KEEL_OBJ_NOTIFICATION: return "NOTIFICATION";
    case KEEL_OBJ_REPLY: return "REPLY";
    case KEEL_OBJ_CNODE: return "CNODE";
    case KEEL_OBJ_PML4: return "PML4";
    case KEEL_OBJ_PDPT: return "PDPT";
    case KEEL_OBJ_PD: return "PD";
    case KEEL_OBJ_PT: return "PT";
    case KEEL_OBJ_FRAME_4K: return "FRAME_4K";
    case KEEL_OBJ_FRAME_2M: return "FRAME_2M";
    case KEEL_OBJ_FRAME_1G: return "FRAME_1G";
    case KEEL_CAP_IRQ_CONTROL: return "IRQ_CONTROL";
    case KEEL_CAP_IRQ_HANDLER: return "IRQ_HANDLER";
    case KEEL_CAP_IOPORT_CONTROL: return "IOPORT_CONTROL";
    case KEEL_CAP_IOPORT: return "IOPORT";
    case KEEL_CAP_ASID_CONTROL: return "ASID_CONTROL";
    case KEEL_CAP_ASID_POOL: return "ASID_POOL";
    case KEEL_CAP_DEBUG: return "DEBUG";
    case KEEL_CAP_LOG: return "LOG";
    default: return "UNKNOWN_TYPE";
    }
}
