/* examples/hello.c - spawn a task, await its result, from block_on. */
#include <stdio.h>
#include <weft.h>

struct square { WEFT_ASYNC; intptr_t x; };  /* the frame: res + locals */

static weft_poll square_poll(struct square *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	WEFT_YIELD();                       /* let the others run once */
	WEFT_RETURN(f->x * f->x);           /* lands in f->res */
	WEFT_END();
}
WEFT_FUTURE(square, struct square, WEFT_NO_DROP);

struct hello { WEFT_ASYNC; weft_rt *rt; weft_join *j; weft_join_wait wait; };

static weft_poll hello_poll(struct hello *f, weft_cx *cx)
{
	WEFT_BEGIN(f, cx);
	if (WEFT_SPAWN(f->rt, square, &f->j, { .x = 7 }) != 0)
		WEFT_RETURN(-1);
	WEFT_AWAIT_INIT(weft_join_wait, &f->wait, f->j);    /* join it */
	weft_join_drop(f->j);
	WEFT_RETURN(f->wait.res);           /* 49, or -ECANCELED */
	WEFT_END();
}
WEFT_FUTURE(hello, struct hello, WEFT_NO_DROP);

int main(void)
{
	weft_rt *rt;

	if (weft_rt_create(&rt, NULL) != 0)  /* one worker per CPU */
		return 1;
	struct hello h = { .rt = rt };
	int err = WEFT_BLOCK_ON(rt, hello, &h);     /* result in h.res */
	weft_rt_destroy(rt);
	printf("7 squared is %ld\n", (long)h.res);
	return err == 0 && h.res == 49 ? 0 : 1;
}
