/* weft/iter.h - streams of items (async iterators: futures' Stream): one
 * poll_next contract, weft's sources as streams, and combinators.
 *
 * (The module is `iter` because weft_stream is the connected byte stream
 * of net.h; an iterator here yields items, not bytes.)
 *
 * THE CONTRACT. A stream is any struct whose first member is a weft_iter
 * (`it`) with a vtable. weft_iter_poll_next(&s.it, cx, item, &res)
 * returns WEFT_PENDING (the waker in cx is registered, as for a future),
 * or WEFT_READY with res:
 *   res >= 0          an item: item_size bytes written to `item` (the
 *                     value of res is the source's: 0, or a length);
 *   WEFT_ITER_END     the end (-ENODATA): nothing written;
 *   any other < 0     an error item (-errno): nothing written. Whether
 *                     the stream goes on after it is the source's to say
 *                     (each below does); the combinators pass error
 *                     items through untouched (map, filter, take_while
 *                     do not see them; take counts them).
 * Fusing: once a stream has returned WEFT_ITER_END, every later
 * poll_next returns WEFT_ITER_END at once without touching the source
 * (weft_iter_poll_next enforces it for every stream, yours included).
 * Items are fixed-size: item_size is the stream's (s.it.item_size), and
 * `item` points at that many bytes of the caller's.
 *
 * Ownership: a combinator points at its sources and never owns them; the
 * caller keeps every stream pinned (usually in one frame) while it is in
 * use, drops each with weft_iter_drop (combinators first), and releases
 * what the sources wrap (a receiver, a listener) after. Dropping a
 * stream at any point loses nothing that poll_next had not returned,
 * except for what the combinators holding concurrent futures say.
 *
 * Bounds and allocation: no stream allocates per item. A combinator that
 * holds one of its source's items between polls (map, zip, for_each, the
 * concurrent ones) keeps it inline, at most WEFT_ITER_HOLD bytes: a source
 * with larger items makes the combinator return -EMSGSIZE once, then
 * WEFT_ITER_END (stream pointers to larger values). for_each_concurrent,
 * buffer_unordered and buffered allocate their `limit` future slots once,
 * at init (a future set, weft/futset.h), and buffered its limit result
 * slots.
 *
 * Threads: a stream is polled by the one task that holds it (it may move
 * between workers), never by two at once; the sources' own rules apply to
 * the objects they wrap.
 */
#ifndef WEFT_ITER_H
#define WEFT_ITER_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broadcast.h"
#include "codec.h"
#include "core.h"
#include "futset.h"
#include "mpsc.h"
#include "net.h"
#include "signal.h"
#include "time.h"
#include "watch.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* ---------------------------------------------------------- contract */

#define WEFT_ITER_END (-ENODATA)

/* Largest item a combinator holds inline. */
#define WEFT_ITER_HOLD 64

typedef struct weft_iter weft_iter;

/* A stream's functions: poll_next as the contract above (called by
 * weft_iter_poll_next, never after the end), drop (NULL: nothing to
 * release), its name for diagnostics. */
typedef struct weft_iter_vt {
	weft_poll (*poll_next)(weft_iter *it, weft_cx *cx, void *item,
			       intptr_t *res);
	void (*drop)(weft_iter *it);
	const char *name;
} weft_iter_vt;

/* The first member of every stream. Write a stream of your own as
 * { weft_iter it; ... } with weft_iter_setup(&s->it, &vt, item_size) in its
 * init; its poll_next gets &s->it back (cast it to your struct). */
struct weft_iter {
	const weft_iter_vt *vt;
	size_t item_size;
	bool ended;     /* fused: WEFT_ITER_END was returned */
	bool dropped;
};

/* Sets it up (not ended) for vt, with items of item_size bytes. */
void weft_iter_setup(weft_iter *it, const weft_iter_vt *vt, size_t item_size);

/* The contract's poll (see the top). it NULL or set up with no vtable:
 * READY with -EINVAL. */
weft_poll weft_iter_poll_next(weft_iter *it, weft_cx *cx, void *item,
			      intptr_t *res);

/* Releases what the stream holds (its vtable's drop), once; the stream
 * then reads as ended. Harmless twice and at any point. */
void weft_iter_drop(weft_iter *it);

/* The next item as a future (an await, a select branch): READY with res
 * as poll_next's, the item in *item. Dropping it loses nothing. */
typedef struct weft_iter_next {
	weft_iter *it;
	void *item;
	intptr_t res;
} weft_iter_next;
WEFT_FUTURE_EXTERN(weft_iter_next);

void weft_iter_next_init(weft_iter_next *n, weft_iter *it, void *item);
weft_poll weft_iter_next_poll(weft_iter_next *n, weft_cx *cx);
void weft_iter_next_drop(weft_iter_next *n);

/* ------------------------------------------------------------ sources */

/* The values of an mpsc receiver (items of elem_size bytes: give the
 * channel's). Ends when the channel is closed and drained (-EPIPE). No
 * error items. The receiver stays the caller's. */
typedef struct weft_iter_mpsc {
	weft_iter it;
	weft_mpsc_rx *rx;
} weft_iter_mpsc;
/* Sets s up over rx. Bad arguments (NULL, elem_size 0) make it give
 * -EINVAL once, then the end (so for every init below). */
void weft_iter_mpsc_init(weft_iter_mpsc *s, weft_mpsc_rx *rx,
			 size_t elem_size);

/* The values of a broadcast receiver. A receiver that fell behind gets
 * the error item -EOVERFLOW (missed = how many were lost) and goes on
 * with the oldest value held. Ends when every sender is gone and all is
 * received. */
typedef struct weft_iter_broadcast {
	weft_iter it;
	weft_broadcast_recv recv;  /* private */
	weft_broadcast_rx *rx;
	uint64_t missed;           /* after -EOVERFLOW */
} weft_iter_broadcast;
/* Sets s up over rx (a subscribed receiver, the caller's). */
void weft_iter_broadcast_init(weft_iter_broadcast *s, weft_broadcast_rx *rx,
			      size_t elem_size);

/* Each change of a watch channel: the value (elem_size bytes) current
 * when the change is seen (sends in between coalesce). Ends when the
 * sender is gone and the last value was seen. */
typedef struct weft_iter_watch {
	weft_iter it;
	weft_watch_changed changed; /* private */
	weft_watch_rx *rx;
} weft_iter_watch;
/* Sets s up over rx (the caller's receiver). */
void weft_iter_watch_init(weft_iter_watch *s, weft_watch_rx *rx,
			  size_t elem_size);

/* The ticks of an interval: items are weft_instant (the tick's scheduled
 * time). Never ends; a timer error (-ENODEV, -ENOMEM, -ECANCELED) is an
 * error item and then the end. */
typedef struct weft_iter_interval {
	weft_iter it;
	weft_interval *iv;
} weft_iter_interval;
/* Sets s up over iv (initialised, the caller's; one stream or tick
 * future at a time on it). */
void weft_iter_interval_init(weft_iter_interval *s, weft_interval *iv);

/* Accepted connections of a listener: items are weft_stream * (each the
 * caller's from then on). Never ends while the listener lives; accept
 * errors (-EMFILE: the listener backs off, see net.h) are error items and
 * the stream goes on, except -ENODEV and -ECANCELED (no runtime, or the
 * runtime shut down), which end it after the error item. */
typedef struct weft_iter_accept {
	weft_iter it;
	weft_listener_accept acc;  /* private */
	weft_listener *l;
} weft_iter_accept;
/* Sets s up over l (the caller's; no other accept on it meanwhile). */
void weft_iter_accept_init(weft_iter_accept *s, weft_listener *l);

/* Signals of a signal stream: items are struct signalfd_siginfo. Errors
 * end it after the error item. */
typedef struct weft_iter_signal {
	weft_iter it;
	weft_signal_recv recv;     /* private */
	weft_signal *sig;
} weft_iter_signal;
/* Sets s up over sig (the caller's, created with weft_signal_create). */
void weft_iter_signal_init(weft_iter_signal *s, weft_signal *sig);

/* A borrowed byte item: frames and lines. data is valid until the next
 * call on the reader (codec.h). */
typedef struct weft_iter_bytes {
	const void *data;
	size_t len;
} weft_iter_bytes;

/* Lines (codec.h) of a buffered reader: items are weft_iter_bytes, res
 * the length. A line over the codec's maximum is the error item -EMSGSIZE
 * and the stream goes on with the next line; the clean end of the byte
 * stream is the end; other errors end it after the error item. */
typedef struct weft_iter_lines {
	weft_iter it;
	weft_bufreader *r;
	weft_codec_lines c;
} weft_iter_lines;
/* Sets s up over r (the caller's reader) with the codec *c (copied). */
void weft_iter_lines_init(weft_iter_lines *s, weft_bufreader *r,
			  const weft_codec_lines *c);

/* Length-delimited frames (codec.h), as lines. */
typedef struct weft_iter_frames {
	weft_iter it;
	weft_bufreader *r;
	weft_codec_frames c;
} weft_iter_frames;
/* Sets s up over r with the codec *c (copied). */
void weft_iter_frames_init(weft_iter_frames *s, weft_bufreader *r,
			   const weft_codec_frames *c);

/* -------------------------------------------------------- combinators */

/* Storage for one held item. */
typedef union weft_iter_hold {
	unsigned char b[WEFT_ITER_HOLD];
	max_align_t align_;
	void *p_;
} weft_iter_hold;

/* Each item of src through fn: fn(ctx, in, out) writes out_size bytes to
 * out and returns >= 0 (the item's res) or < 0 (an error item instead).
 * Error items of src pass through. */
typedef struct weft_iter_map {
	weft_iter it;
	weft_iter *src;
	intptr_t (*fn)(void *ctx, const void *in, void *out);
	void *ctx;
	weft_iter_hold in;         /* private */
} weft_iter_map;
/* Sets m up over src: items of out_size bytes; fn NULL or src NULL:
 * -EINVAL once, src items over WEFT_ITER_HOLD: -EMSGSIZE once. */
void weft_iter_map_init(weft_iter_map *m, weft_iter *src, size_t out_size,
			intptr_t (*fn)(void *ctx, const void *in, void *out),
			void *ctx);

/* The items of src for which pred(ctx, item) is true (the others are
 * consumed and skipped; error items pass). */
typedef struct weft_iter_filter {
	weft_iter it;
	weft_iter *src;
	bool (*pred)(void *ctx, const void *item);
	void *ctx;
} weft_iter_filter;
/* Sets f up over src (same item size). */
void weft_iter_filter_init(weft_iter_filter *f, weft_iter *src,
			   bool (*pred)(void *ctx, const void *item),
			   void *ctx);

/* The first n items of src (error items count), then the end (src is not
 * polled again). */
typedef struct weft_iter_take {
	weft_iter it;
	weft_iter *src;
	uint64_t left;
} weft_iter_take;
/* Sets t up over src: at most n items. */
void weft_iter_take_init(weft_iter_take *t, weft_iter *src, uint64_t n);

/* Items of src while pred(ctx, item) is true; the first for which it is
 * false is consumed and ends the stream. Error items pass. */
typedef struct weft_iter_take_while {
	weft_iter it;
	weft_iter *src;
	bool (*pred)(void *ctx, const void *item);
	void *ctx;
} weft_iter_take_while;
/* Sets t up over src (same item size). */
void weft_iter_take_while_init(weft_iter_take_while *t, weft_iter *src,
			       bool (*pred)(void *ctx, const void *item),
			       void *ctx);

/* Every item of a, then every item of b (same item size, else -EINVAL
 * once, then the end). */
typedef struct weft_iter_chain {
	weft_iter it;
	weft_iter *a, *b;
} weft_iter_chain;
/* Sets c up over a then b. */
void weft_iter_chain_init(weft_iter_chain *c, weft_iter *a, weft_iter *b);

/* Items of n streams (same item size) as they come, fairly: each poll
 * starts at the stream after the one that gave the last item, so a
 * stream always ready cannot starve the others. Ends when all have
 * ended. srcs: n pointers, kept by the caller. */
typedef struct weft_iter_merge {
	weft_iter it;
	weft_iter **srcs;
	size_t n;
	size_t next;               /* private: where the next poll starts */
} weft_iter_merge;
/* Sets m up over srcs[0..n) (n 0: ends at once). */
void weft_iter_merge_init(weft_iter_merge *m, weft_iter **srcs, size_t n);

/* Pairs: an item of a and an item of b, a's bytes at offset 0 and b's at
 * b_off (a's item size rounded up to 16). Ends when either ends (a held
 * item of the other is discarded). An error item of either passes
 * through; an item already taken from the other is kept for the pair. */
typedef struct weft_iter_zip {
	weft_iter it;
	weft_iter *a, *b;
	size_t b_off;
	bool have_a, have_b;       /* private */
	weft_iter_hold ha, hb;     /* private */
} weft_iter_zip;
/* Sets z up over a and b (items up to WEFT_ITER_HOLD each). */
void weft_iter_zip_init(weft_iter_zip *z, weft_iter *a, weft_iter *b);

/* Items of src, with a limit per item: when no item (or error, or end)
 * came within d of the poll that started waiting for it, the error item
 * -ETIMEDOUT, and the wait for the same item starts again. Needs a
 * runtime with I/O (timer errors are error items). */
typedef struct weft_iter_timeout {
	weft_iter it;
	weft_iter *src;
	weft_duration d;
	bool armed;                /* private */
	weft_sleep sleep;          /* private */
} weft_iter_timeout;
/* Sets t up over src with the limit d per item. */
void weft_iter_timeout_init(weft_iter_timeout *t, weft_iter *src,
			    weft_duration d);

/* A keyed merge (tokio's StreamMap): up to cap streams, each under a
 * 64-bit key, merged fairly; items are the key (uint64_t, at offset 0)
 * followed by the member's item (at offset 8). A member that ends is
 * removed. Empty, it waits for an insert, unless closed: it ends once it
 * is closed and empty. Members' error items come keyed (the key is
 * written to item, res < 0). entries: cap slots of caller memory. */
typedef struct weft_iter_keyed_entry {
	uint64_t key;
	weft_iter *it;             /* NULL: a free slot */
} weft_iter_keyed_entry;
typedef struct weft_iter_keyed {
	weft_iter it;
	weft_iter_keyed_entry *e;
	size_t cap, n;
	size_t next;               /* private */
	bool closed;
	weft_waker waiter;         /* private */
} weft_iter_keyed;
/* Members' items are member_size bytes (the keyed item is 8 more). */
void weft_iter_keyed_init(weft_iter_keyed *k, weft_iter_keyed_entry *entries,
			  size_t cap, size_t member_size);
/* Adds it under key. Returns 0, -EEXIST (key present), -ENOSPC (cap
 * members), -EINVAL (a NULL, another item size, or closed). */
int weft_iter_keyed_insert(weft_iter_keyed *k, uint64_t key, weft_iter *it);
/* Removes key's member (not dropped: it is the caller's) and returns it,
 * or NULL when absent. */
weft_iter *weft_iter_keyed_remove(weft_iter_keyed *k, uint64_t key);
/* No more inserts: the stream ends once its members have. */
void weft_iter_keyed_close(weft_iter_keyed *k);

/* ------------------------------------------------ consuming futures */

/* Calls fn(ctx, item) for each item of src, in the polling task. READY
 * with res = 0 at the end, or the first error item's value, or fn's
 * value when fn returns < 0 (both stop it). Dropping it loses nothing but
 * the item being handed to fn (none: fn runs inside the poll). */
typedef struct weft_iter_for_each {
	weft_iter *src;
	intptr_t (*fn)(void *ctx, void *item);
	void *ctx;
	weft_iter_hold item;       /* private */
	intptr_t res;
} weft_iter_for_each;
WEFT_FUTURE_EXTERN(weft_iter_for_each);
void weft_iter_for_each_init(weft_iter_for_each *f, weft_iter *src,
			     intptr_t (*fn)(void *ctx, void *item),
			     void *ctx);
weft_poll weft_iter_for_each_poll(weft_iter_for_each *f, weft_cx *cx);
void weft_iter_for_each_drop(weft_iter_for_each *f);

/* How the concurrent combinators make a future per item: a future type
 * (its WEFT_FUTURE name's _future) and start(ctx, frame, item), which
 * initialises the zeroed frame from the item. */
typedef void (*weft_iter_start_fn)(void *ctx, void *frame, const void *item);

/* Runs a future per item of src, at most limit at once (1..2^20), all
 * inside the polling task (a future set): pulls items while fewer than
 * limit run. READY with res = 0 once src ended and every future
 * finished; on an error item (or a future set failure: -ENOMEM) it stops
 * pulling, lets the running futures finish, and gives that error. The
 * futures' results are theirs (collect them through ctx). Dropping it
 * drops the running futures (their drop functions run: mid-I/O ones are
 * cancelled). WEFT_ITER_FOR_EACH_CONCURRENT_INIT names the type. */
typedef struct weft_iter_for_each_concurrent {
	weft_iter *src;
	const weft_future_type *type;
	weft_iter_start_fn start;
	void *ctx;
	size_t limit;
	weft_futset set;           /* private */
	intptr_t err;              /* private */
	bool src_done;             /* private */
	weft_iter_hold item;       /* private */
	intptr_t res;
} weft_iter_for_each_concurrent;
WEFT_FUTURE_EXTERN(weft_iter_for_each_concurrent);
void weft_iter_for_each_concurrent_init(weft_iter_for_each_concurrent *f,
					weft_iter *src, size_t limit,
					const weft_future_type *type,
					weft_iter_start_fn start, void *ctx);
#define WEFT_ITER_FOR_EACH_CONCURRENT_INIT(f, src, limit, name, start, ctx) \
	weft_iter_for_each_concurrent_init((f), (src), (limit),             \
					   &name##_future, (start), (ctx))
weft_poll weft_iter_for_each_concurrent_poll(weft_iter_for_each_concurrent *f,
					     weft_cx *cx);
void weft_iter_for_each_concurrent_drop(weft_iter_for_each_concurrent *f);

/* A stream of the results of a future per item of src, at most limit
 * running (1..2^20): buffer_unordered gives them in completion order,
 * buffered in the order of src's items (a finished future waits in its
 * result slot until those before it are given). finish(ctx, frame, out),
 * when not NULL, writes the item (out_size bytes) from a finished frame
 * and returns its res (< 0: an error item); with finish NULL the item is
 * the future's result (intptr_t, out_size ignored) and a negative result
 * is an error item. An error item of src is given after the futures
 * started before it, and src is not pulled again (then the end). Ends
 * when src ended and every future was given. Dropping the stream drops
 * the running futures. */
typedef struct weft_iter_buffered {
	weft_iter it;
	weft_iter *src;
	const weft_future_type *type;
	weft_iter_start_fn start;
	intptr_t (*finish)(void *ctx, void *frame, void *out);
	void *ctx;
	size_t limit;
	bool ordered;              /* private */
	bool src_done;             /* private */
	intptr_t err;              /* private */
	weft_futset set;           /* private */
	uint64_t head, tail;       /* private: order (buffered) */
	uint64_t *seq;             /* private: per slot */
	intptr_t *rres;            /* private: per result slot */
	unsigned char *rbuf;       /* private: limit * item_size */
	unsigned char *rdone;      /* private */
	weft_iter_hold item;       /* private */
} weft_iter_buffered;
/* Sets b up as buffer_unordered over src (see above). Bad arguments
 * (NULLs, limit 0 or over 2^20) give -EINVAL once, src items over
 * WEFT_ITER_HOLD -EMSGSIZE, no memory -ENOMEM; then the end. */
void weft_iter_buffer_unordered_init(weft_iter_buffered *b, weft_iter *src,
				     size_t limit,
				     const weft_future_type *type,
				     weft_iter_start_fn start,
				     intptr_t (*finish)(void *ctx, void *frame,
							void *out),
				     size_t out_size, void *ctx);
/* As weft_iter_buffer_unordered_init, keeping the order of src. */
void weft_iter_buffered_init(weft_iter_buffered *b, weft_iter *src,
			     size_t limit, const weft_future_type *type,
			     weft_iter_start_fn start,
			     intptr_t (*finish)(void *ctx, void *frame,
						void *out),
			     size_t out_size, void *ctx);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* WEFT_ITER_H */
