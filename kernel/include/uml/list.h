/*
 * Intrusive doubly linked lists.
 *
 * A list is a pair of end pointers and a node is a pair of neighbour pointers,
 * both NULL-terminated rather than circular, so that all-zero memory is an
 * empty list and an unlinked node: structures in the arena come from kzalloc
 * or from an application's zeroed storage and need no init call.
 *
 * No locking here: the structure holding the list says which lock guards it.
 * Every operation is O(1) except the walks.
 */
#ifndef UML_LIST_H
#define UML_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "compiler.h" /* container_of */

struct list_node {
	struct list_node *next, *prev;
};

struct list {
	struct list_node *first, *last;
};

/* The structure holding @node, or NULL for a NULL node. */
#define list_entry(node, type, member)                                                             \
	({                                                                                         \
		struct list_node *_n = (node);                                                     \
		_n ? container_of(_n, type, member) : (type *)NULL;                                \
	})

static inline void list_init(struct list *l)
{
	l->first = l->last = NULL;
}

static inline bool list_empty(const struct list *l)
{
	return l->first == NULL;
}

/* Whether @n is on @l (O(1): the ends, or a neighbour, say so). */
static inline bool list_linked(const struct list *l, const struct list_node *n)
{
	return n->prev || n->next || l->first == n;
}

static inline void list_add_tail(struct list *l, struct list_node *n)
{
	n->next = NULL;
	n->prev = l->last;
	if (l->last)
		l->last->next = n;
	else
		l->first = n;
	l->last = n;
}

static inline void list_add_head(struct list *l, struct list_node *n)
{
	n->prev = NULL;
	n->next = l->first;
	if (l->first)
		l->first->prev = n;
	else
		l->last = n;
	l->first = n;
}

/* Link @n in front of @pos, which is on @l; a NULL @pos appends. */
static inline void list_add_before(struct list *l, struct list_node *pos, struct list_node *n)
{
	if (!pos) {
		list_add_tail(l, n);
		return;
	}
	n->next = pos;
	n->prev = pos->prev;
	if (pos->prev)
		pos->prev->next = n;
	else
		l->first = n;
	pos->prev = n;
}

/* Unlink @n from @l; the node reads as unlinked afterwards. */
static inline void list_del(struct list *l, struct list_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->first = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->last = n->prev;
	n->next = n->prev = NULL;
}

static inline struct list_node *list_pop_head(struct list *l)
{
	struct list_node *n = l->first;

	if (n)
		list_del(l, n);
	return n;
}

/* Move @n to the tail of @l (LRU order: the head is the least recent). */
static inline void list_move_tail(struct list *l, struct list_node *n)
{
	if (l->last == n)
		return;
	list_del(l, n);
	list_add_tail(l, n);
}

#define list_for_each(pos, l) for (struct list_node *pos = (l)->first; pos; pos = pos->next)

/* Safe against unlinking (and freeing) the current node. */
#define list_for_each_safe(pos, l)                                                                 \
	for (struct list_node *pos = (l)->first, *pos##_next = pos ? pos->next : NULL; pos;        \
	     pos = pos##_next, pos##_next = pos ? pos->next : NULL)

#endif
