/* examples/hello.c - spawn a task, await its output, from block_on. */
#include <stdio.h>
#include <weft.h>

struct square { WEFT_ASYNC; intptr_t x; };      /* the task's frame */

static weft_poll square_poll(struct square *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	WEFT_YIELD(f, cx);                     /* let the others run once */
	WEFT_RETURN(f, cx, f->x * f->x);
	WEFT_END(f);
}

struct hello { WEFT_ASYNC; weft_rt *rt; weft_join_fut join; };

static weft_poll hello_poll(struct hello *f, weft_cx *cx)
{
	WEFT_BEGIN(f);
	if (WEFT_SPAWN(f->rt, &f->join.j, square_poll, NULL, struct square,
		       { .x = 7 }) != 0)
		WEFT_RETURN(f, cx, -1);
	WEFT_AWAIT(f, weft_join_fut_poll(&f->join, cx));   /* join it */
	weft_join_drop(f->join.j);
	WEFT_RETURN(f, cx, f->join.err ? -1 : f->join.out);
	WEFT_END(f);
}

int main(void)
{
	weft_rt *rt;
	intptr_t out = -1;

	if (weft_rt_create(&rt, NULL) != 0)    /* one worker per CPU */
		return 1;
	struct hello h = { .rt = rt };
	WEFT_BLOCK_ON(rt, &out, hello_poll, &h);
	weft_rt_destroy(rt);
	printf("7 squared is %ld\n", (long)out);
	return out == 49 ? 0 : 1;
}
