/* Address-space helpers for the root task: mapping a frame with whatever paging structures are
 * missing on the way, and a second VSpace that runs the program's own image (every image frame
 * mapped again, through a copy of its cap, at the same address with the same access), so a thread
 * moved into it runs the same code on the same data in another address space. */
#ifndef KEEL_VSPACE_H
#define KEEL_VSPACE_H

#include <keel/abi.h>
#include <stdint.h>

/* Where the helpers get objects and slots. A NULL hook (or a NULL struct) means libkeel's own
 * allocators: keel_alloc_object() and keel_slot_alloc() (keel/alloc.h). */
struct keel_vspace_alloc {
    int (*object)(void *ctx, uint64_t type, uint64_t size_param, uint64_t *cptr);
    int (*slot)(void *ctx, uint64_t *slot);
    void *ctx;
};

/* Map `frame` at `va` in `vspace` (KEEL_FRAME_MAP), first making and mapping each paging
 * structure the kernel reports missing (KEEL_E_MISSING_TABLE names the type). 0 or the error of
 * the map, of an allocation, or KEEL_E_INVALID_ARGUMENT if the kernel names an unexpected type. */
int keel_vspace_map_frame(uint64_t frame, uint64_t vspace, uint64_t va, uint64_t access, uint64_t attr,
                          const struct keel_vspace_alloc *alloc);

/* A new VSpace (PML4 with an ASID from the boot pool, KEEL_SLOT_ASID_POOL) in which every mapped
 * frame of bi->image_frames is mapped again at the same address, through a fresh copy of its cap,
 * with the access its current mapping has (read through KEEL_SLOT_DEBUG's ReadPTE: writable stays
 * writable, executable stays executable). Code and data are shared with the caller's VSpace; the
 * root task's IPC buffer and BootInfo frame are not part of the image and are not mapped.
 * *vspace_out is set even on error (0 if the PML4 could not be made) so the caller can clean up. */
int keel_vspace_clone_image(const struct keel_bootinfo *bi, uint64_t *vspace_out,
                            const struct keel_vspace_alloc *alloc);

#endif
