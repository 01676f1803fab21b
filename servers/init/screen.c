/* The screen: the kernel hands init the memory it drew its boot log on as one device Untyped
 * (BootInfo `screen`, docs/abi.md). init maps it into the one process whose manifest line says
 * caps=screen (the console server) and tells that process the geometry in an argument
 * (keel/console.h). The process gets no cap to it: init retypes the Untyped into frames at each
 * start, maps them, and keeps the frame caps in a CNode made from the process's own memory, so
 * they all go with the Revoke that ends the process (and a map of the screen never outlives it). */
#include "init.h"
#include <keel/console.h>
#include <keel/errors.h>
#include <keel/invoke.h>
#include <keel/alloc.h>
#include <keel/string.h>

#define SCREEN_MAX_PAGES (64u * 1024 * 1024 / 4096) /* 64 MiB: 8K x 2K x 32 bpp, far past real screens */

static uint64_t page_base(void) { return bi->screen.paddr & ~4095ull; }

static uint64_t page_count(void)
{
    return ((bi->screen.paddr + bi->screen.size + 4095) / 4096) - page_base() / 4096;
}

const char *screen_missing(void)
{
    const struct keel_screen_info *s = &bi->screen;
    if (s->type == KEEL_SCREEN_NONE)
        return "this boot has no screen the kernel could hand over (serial only)";
    if ((s->type != KEEL_SCREEN_TEXT && s->type != KEEL_SCREEN_RGB) || s->untyped_index >= bi->untyped_count)
        return "the BootInfo's screen description is inconsistent";
    const struct keel_untyped_info *u = &bi->untyped_list[s->untyped_index];
    if (!u->is_device || !(u->flags & KEEL_UNTYPED_SCREEN) || page_base() != u->paddr ||
        page_count() * 4096 != u->size || s->size == 0)
        return "the BootInfo's screen Untyped does not match its description";
    if (page_count() > SCREEN_MAX_PAGES)
        return "the screen is larger than 64 MiB";
    return 0;
}

void screen_arg(char *buf, size_t size)
{
    const struct keel_screen_info *s = &bi->screen;
    keel_snprintf(buf, size,
                  KEEL_CONSOLE_SCREEN_ARG "type=%s,width=%u,height=%u,pitch=%u,bpp=%u,red=%u/%u,green=%u/%u,"
                                          "blue=%u/%u,va=%#llx,size=%llu",
                  s->type == KEEL_SCREEN_TEXT ? "text" : "rgb", s->width, s->height, s->pitch, s->bpp, s->red_pos,
                  s->red_size, s->green_pos, s->green_size, s->blue_pos, s->blue_size,
                  (unsigned long long)(KEEL_CONSOLE_SCREEN_VA + (s->paddr - page_base())),
                  (unsigned long long)s->size);
}

int screen_map(struct proc *pr, const char **what)
{
    uint64_t ut = keel_bootinfo_untyped_cptr(bi, bi->screen.untyped_index);
    uint64_t pages = page_count(), radix = KEEL_CNODE_MIN_RADIX, cnode, frame;
    /* Text mode is read back to scroll and is tiny: uncached. A framebuffer is written in bursts:
     * write-combining. */
    uint64_t attr = bi->screen.type == KEEL_SCREEN_TEXT ? KEEL_CACHE_UC : KEEL_CACHE_WC;
    int err;
    while ((1ull << radix) < pages)
        radix++;
    /* The last holder's frames went with its memory; a Revoke also covers anything left over, so
     * the Untyped starts from its bottom again. */
    *what = "screen: revoke the last frames";
    if ((err = keel_cspace_revoke(ut)))
        return err;
    *what = "screen: frames CNode";
    if ((err = keel_slot_alloc(&cnode)))
        return err;
    if ((err = keel_untyped_retype(pr->untyped, KEEL_OBJ_CNODE, radix, 0, 0, cnode, 1))) {
        keel_slot_free(cnode);
        return err;
    }
    own(pr, cnode);
    if ((err = keel_slot_alloc(&frame)))
        return err;
    for (uint64_t i = 0; i < pages && !err; i++) {
        *what = "screen: retype a frame";
        if ((err = keel_untyped_retype(ut, KEEL_OBJ_FRAME_4K, 0, 0, 0, frame, 1)))
            break;
        *what = "screen: map a frame";
        err = map_frame_attr(frame, pr->p.vspace, KEEL_CONSOLE_SCREEN_VA + i * 4096,
                             KEEL_MAP_READ | KEEL_MAP_WRITE, attr, pr);
        /* Into the process's CNode, mapped or not: it dies with the process. */
        int merr = keel_cnode_move(cnode, i, radix, 0, frame, KEEL_CSPACE_DEPTH);
        if (!err)
            err = merr;
        else if (merr)
            keel_cspace_delete(frame);
    }
    keel_slot_free(frame);
    return err;
}
