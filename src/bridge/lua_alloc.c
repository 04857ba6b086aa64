/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A slab allocator per Lua state (lua_alloc.h). Small blocks are grouped by
 * size class (multiples of 16 bytes up to TC_LUA_ALLOC_SMALL); each chunk of
 * CHUNK bytes, aligned to its size, serves one class and keeps its header at
 * its start, so the chunk of a block is its address rounded down. A chunk
 * with free room is on its class's list; a chunk that empties is kept as a
 * spare (up to KEEP_SPARES of them) or given back.
 *
 * With a limit (tc_lua_alloc_newstate()), an allocation or growth that
 * would take the bytes in use, small_used + large_used, past it gets NULL:
 * Lua then collects in full and tries once more before it raises "not
 * enough memory". Frees always succeed, and shrinks are never refused for
 * the limit; a shrink that moves the block to a smaller class can still
 * fail when the system has no chunk to give, which Lua 5.4, unlike 5.3,
 * takes as it takes any failed allocation. The common path, a
 * small block from a chunk with room, checks one bound, 'small_cap': what
 * small_used may reach with the large blocks as they are.
 *
 * Under AddressSanitizer the pool tells it what Lua owns, as malloc()
 * would: a block is addressable for the bytes Lua asked for (a resize
 * within its class moves that end), and the rest of its class, free blocks,
 * never-used room and the blocks of spare chunks are poisoned, so that C
 * code writing past a string or userdata, or reading a freed one, is
 * reported. The chunk headers stay addressable: they hold the pool's links
 * between chunks, which LeakSanitizer must see. The pool's own functions
 * (ALLOC_FN) are not instrumented: they read the free lists without
 * unpoisoning them. In other
 * builds the annotations are empty and compile to nothing.
 */
#include "bridge/lua_alloc.h"

#include "core/common.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define TC_LUA_ALLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TC_LUA_ALLOC_ASAN 1
#endif
#endif

#ifdef TC_LUA_ALLOC_ASAN
#include <sanitizer/asan_interface.h>
#define ALLOC_FN __attribute__((no_sanitize_address))
#else
#define ALLOC_FN
#endif

/* Mark 'n' bytes at 'p' as not Lua's (poison()) or as Lua's (unpoison()): AddressSanitizer only. */
static inline void
poison(const void *p, size_t n)
{
#ifdef TC_LUA_ALLOC_ASAN
    ASAN_POISON_MEMORY_REGION(p, n);
#else
    (void)p;
    (void)n;
#endif
}

static inline void
unpoison(const void *p, size_t n)
{
#ifdef TC_LUA_ALLOC_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
    (void)p;
    (void)n;
#endif
}

#define CHUNK       ((size_t)TC_LUA_ALLOC_CHUNK)
#define GRAIN       16
#define NCLASSES    (TC_LUA_ALLOC_SMALL / GRAIN)
#define KEEP_SPARES 16

typedef struct chunk chunk_t;

struct chunk {
    chunk_t *prev; /* on its class's list of chunks with free room */
    chunk_t *next;
    void *free;     /* freed blocks, linked through their first word */
    uint32_t bump;  /* offset of the first never-used block */
    uint32_t live;  /* blocks in use */
    uint16_t size;  /* block size of its class */
    uint8_t listed; /* on the list */
};

/* The blocks of a chunk start here: the header, rounded up to the grain. */
#define FIRST (((sizeof(chunk_t) + GRAIN - 1) / GRAIN) * GRAIN)

struct tc_lua_alloc {
    chunk_t *partial[NCLASSES]; /* chunks with free room, per class */
    chunk_t *spares;            /* empty chunks kept for reuse, linked by 'next' */
    size_t nspares;
    size_t chunks;     /* chunks held, spares included */
    size_t small_used; /* bytes */
    size_t small_cap;  /* the most small_used may reach: limit - large_used, or SIZE_MAX */
    size_t large_used; /* bytes */
    size_t limit;      /* the most small_used + large_used may reach; 0: none */
    size_t refused;    /* allocations and growths refused for the limit */
    int warn_on;       /* the warning function's state, as lauxlib's */
    int warn_cont;     /* in the middle of a warning that is being written */
    int ready;         /* the state exists: when nothing is in use any more, it was closed */
};

static inline size_t
class_of(size_t size)
{
    return (size - 1) / GRAIN; /* size is 1 .. TC_LUA_ALLOC_SMALL */
}

static inline chunk_t *
chunk_of(void *block)
{
    /* NOLINTNEXTLINE(performance-no-int-to-ptr): a block's chunk: its address rounded down */
    return (chunk_t *)((uintptr_t)block & ~(uintptr_t)(CHUNK - 1));
}

/* The bytes a block of 'size' counts for: its class's size, or 'size' itself when large. */
static inline size_t
counted(size_t size)
{
    return size <= TC_LUA_ALLOC_SMALL ? (class_of(size) + 1) * GRAIN : size;
}

static void
set_large_used(tc_lua_alloc_t *a, size_t large_used)
{
    a->large_used = large_used;
    if (a->limit == 0) {
        a->small_cap = SIZE_MAX;
    } else {
        a->small_cap = large_used < a->limit ? a->limit - large_used : 0;
    }
}

/* Whether 'more' bytes may be added to those in use (false counts a refusal). */
static bool
fits(tc_lua_alloc_t *a, size_t more)
{
    size_t used = a->small_used + a->large_used;
    if (a->limit == 0 || (used <= a->limit && more <= a->limit - used)) {
        return true;
    }
    a->refused++;
    return false;
}

static ALLOC_FN void __attribute__((noinline))
unlink_chunk(tc_lua_alloc_t *a, size_t cls, chunk_t *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        a->partial[cls] = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
    c->listed = 0;
}

static ALLOC_FN void
link_chunk(tc_lua_alloc_t *a, size_t cls, chunk_t *c)
{
    c->prev = NULL;
    c->next = a->partial[cls];
    if (c->next != NULL) {
        c->next->prev = c;
    }
    a->partial[cls] = c;
    c->listed = 1;
}

static ALLOC_FN chunk_t *
new_chunk(tc_lua_alloc_t *a, size_t cls)
{
    chunk_t *c = a->spares;
    if (c != NULL) {
        a->spares = c->next;
        a->nspares--;
    } else {
        c = aligned_alloc(CHUNK, CHUNK);
        if (c == NULL) {
            return NULL;
        }
        a->chunks++;
        /*
         * the blocks (a spare's are poisoned already); not the header, which
         * links the chunk into the pool's lists: LeakSanitizer follows no
         * pointer held in poisoned memory, and would report a spare chunk, or
         * one behind the first on a list, as leaked
         */
        poison((char *)c + FIRST, CHUNK - FIRST);
    }
    c->free = NULL;
    c->bump = FIRST;
    c->live = 0;
    c->size = (uint16_t)((cls + 1) * GRAIN);
    link_chunk(a, cls, c);
    return c;
}

/*
 * A block of chunk 'c', which has room (it is on the list of class 'cls');
 * 'used' is small_used with the block counted.
 */
static inline ALLOC_FN void *
take_block(tc_lua_alloc_t *a, size_t cls, chunk_t *c, size_t used)
{
    void *b = c->free;
    if (b != NULL) {
        memcpy(&c->free, b, sizeof(void *));
    } else {
        b = (char *)c + c->bump;
        c->bump += c->size;
    }
    c->live++;
    a->small_used = used;
    if (TC_UNLIKELY(c->free == NULL && c->bump + c->size > CHUNK)) {
        unlink_chunk(a, cls, c); /* full */
    }
    return b;
}

/* A small block for 'nsize' bytes, 1 .. TC_LUA_ALLOC_SMALL. */
static ALLOC_FN void *
small_alloc(tc_lua_alloc_t *a, size_t nsize)
{
    size_t cls = class_of(nsize);
    chunk_t *c = a->partial[cls];
    if (c == NULL && (c = new_chunk(a, cls)) == NULL) {
        return NULL;
    }
    void *b = take_block(a, cls, c, a->small_used + c->size);
    unpoison(b, nsize);
    return b;
}

/* Give a chunk back to the system. */
static ALLOC_FN void
chunk_free(chunk_t *c)
{
    unpoison(c, CHUNK);
    free(c);
}

/* Give back every chunk and the pool itself. */
static ALLOC_FN void
pool_free(tc_lua_alloc_t *a)
{
    while (a->spares != NULL) {
        chunk_t *c = a->spares;
        a->spares = c->next;
        chunk_free(c);
    }
    for (size_t i = 0; i < NCLASSES; i++) {
        while (a->partial[i] != NULL) { /* only if a block was never freed */
            chunk_t *c = a->partial[i];
            a->partial[i] = c->next;
            chunk_free(c);
        }
    }
    free(a);
}

static ALLOC_FN void
small_free(tc_lua_alloc_t *a, void *b)
{
    chunk_t *c = chunk_of(b);
    size_t cls = class_of(c->size);
    poison(b, c->size);
    memcpy(b, &c->free, sizeof(void *));
    c->free = b;
    c->live--;
    a->small_used -= c->size;
    if (c->live == 0) {
        if (c->listed) {
            unlink_chunk(a, cls, c);
        }
        if (a->nspares < KEEP_SPARES) {
            c->next = a->spares;
            a->spares = c;
            a->nspares++;
        } else {
            chunk_free(c);
            a->chunks--;
        }
    } else if (!c->listed) {
        link_chunk(a, cls, c);
    }
}

/*
 * Everything but the two common cases of pool_alloc(): large blocks,
 * resizes, a chunk that fills or empties, the last block of a closed state.
 */
static ALLOC_FN void *__attribute__((noinline))
pool_alloc_slow(tc_lua_alloc_t *a, void *ptr, size_t osize, size_t nsize)
{
    if (nsize == 0) {
        if (ptr != NULL) {
            if (osize <= TC_LUA_ALLOC_SMALL) {
                small_free(a, ptr);
            } else {
                set_large_used(a, a->large_used - osize);
                free(ptr);
            }
            /* lua_close() frees the state's own block last */
            if (a->ready && a->small_used == 0 && a->large_used == 0) {
                pool_free(a);
            }
        }
        return NULL;
    }
    /* from here on a block is made or resized: only growth is held to the limit */
    size_t had = ptr != NULL ? counted(osize) : 0; /* with no block, 'osize' is a type */
    if (counted(nsize) > had && !fits(a, counted(nsize) - had)) {
        return NULL;
    }
    if (ptr != NULL && osize > TC_LUA_ALLOC_SMALL && nsize > TC_LUA_ALLOC_SMALL) {
        void *p = realloc(ptr, nsize);
        if (p != NULL) {
            set_large_used(a, a->large_used - osize + nsize);
        }
        return p;
    }
    if (ptr != NULL && osize <= TC_LUA_ALLOC_SMALL && nsize <= TC_LUA_ALLOC_SMALL &&
        class_of(osize) == class_of(nsize)) {
        poison(ptr, counted(osize));
        unpoison(ptr, nsize);
        return ptr;
    }
    void *p;
    if (nsize <= TC_LUA_ALLOC_SMALL) {
        p = small_alloc(a, nsize);
    } else if ((p = malloc(nsize)) != NULL) {
        set_large_used(a, a->large_used + nsize);
    }
    if (p != NULL && ptr != NULL) {
        memcpy(p, ptr, osize < nsize ? osize : nsize);
        pool_alloc_slow(a, ptr, osize, 0);
    }
    return p;
}

/*
 * lua_Alloc: 'osize' is the block's size when 'ptr' is not NULL (else the
 * type of the new object). Most calls make a small object in a chunk with
 * room, or free one from a chunk that keeps others: those are done here,
 * with no call and few registers to save; the rest is pool_alloc_slow(),
 * which also refuses what the limit does not allow.
 */
static ALLOC_FN void *
pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    tc_lua_alloc_t *a = ud;
    if (ptr == NULL) {
        if (nsize - 1 < TC_LUA_ALLOC_SMALL) { /* 1 .. TC_LUA_ALLOC_SMALL */
            size_t cls = class_of(nsize);
            chunk_t *c = a->partial[cls];
            if (c != NULL) {
                size_t used = a->small_used + c->size;
                if (used <= a->small_cap) { /* the limit's one comparison */
                    void *b = take_block(a, cls, c, used);
                    unpoison(b, nsize);
                    return b;
                }
            }
        }
    } else if (nsize == 0 && osize <= TC_LUA_ALLOC_SMALL) {
        chunk_t *c = chunk_of(ptr);
        if (c->live > 1 && c->listed) { /* the chunk neither empties nor comes back */
            poison(ptr, c->size);
            memcpy(ptr, &c->free, sizeof(void *));
            c->free = ptr;
            c->live--;
            a->small_used -= c->size;
            return NULL;
        }
    }
    return pool_alloc_slow(a, ptr, osize, nsize);
}

static int
panic(lua_State *L)
{
    const char *msg =
        lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error object is not a string";
    (void)fprintf(stderr, "thriftcorn: unprotected error in a call to the Lua API (%s)\n", msg);
    (void)fflush(stderr);
    return 0; /* Lua aborts */
}

/*
 * Warnings as lauxlib's luaL_newstate() sets them up: off until "@on", back
 * off with "@off"; a warning made of pieces is written as one line. A
 * control message is a warning of one piece: "@on" as a piece of a longer
 * one is text. As in lauxlib, warnings that are off take the last piece of
 * any warning for a control message.
 */
static void
warn_cb(void *ud, const char *msg, int tocont)
{
    tc_lua_alloc_t *a = ud;
    if (!tocont && msg[0] == '@' && !a->warn_cont) {
        if (strcmp(msg, "@on") == 0) {
            a->warn_on = 1;
        } else if (strcmp(msg, "@off") == 0) {
            a->warn_on = 0;
        }
        return;
    }
    if (a->warn_on) {
        (void)fprintf(stderr, "%s%s%s", a->warn_cont ? "" : "Lua warning: ", msg,
                      tocont ? "" : "\n");
        if (!tocont) {
            (void)fflush(stderr);
        }
        a->warn_cont = tocont; /* only while on: off, every piece is looked at */
    }
}

lua_State *
tc_lua_alloc_newstate(size_t limit)
{
    tc_lua_alloc_t *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return NULL;
    }
    a->limit = limit;
    set_large_used(a, 0);
    lua_State *L = lua_newstate(pool_alloc, a);
    if (L == NULL) {
        pool_free(a);
        return NULL;
    }
    a->ready = 1;
    lua_atpanic(L, panic);
    lua_setwarnf(L, warn_cb, a);
    return L;
}

void
tc_lua_alloc_stats(lua_State *L, tc_lua_alloc_stats_t *out)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    const tc_lua_alloc_t *a = ud;
    out->chunks = a->chunks;
    out->small_used = a->small_used;
    out->large_used = a->large_used;
    out->refused = a->refused;
}

size_t
tc_lua_alloc_limit(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ((const tc_lua_alloc_t *)ud)->limit;
}
