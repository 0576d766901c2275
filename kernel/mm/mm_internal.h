/* Shared between the page allocator and the slab caches; not for other layers. */
#ifndef UML_MM_INTERNAL_H
#define UML_MM_INTERNAL_H

#include "uml/mm.h"

extern struct mm_zone *mm_cur;

/* Called with zone.lock held. */
void *page_alloc_locked(struct mm_zone *z, unsigned order);
void page_free_locked(struct mm_zone *z, void *addr, unsigned order);
void slab_init(struct mm_zone *z);

#endif
