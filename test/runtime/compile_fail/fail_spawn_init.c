/* Spawning future a with an initialiser that is a struct b value, not a
 * braced initialiser of a's frame.
 * expect: conversion to non-scalar type|where arithmetic or pointer type is required */
#include "frames.h"

int wrong(weft_rt *rt, struct b fb);

int wrong(weft_rt *rt, struct b fb)
{
	return WEFT_SPAWN(rt, a, NULL, fb);
}
