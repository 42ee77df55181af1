/*
 * gcbench.h - the shape of Boehm's GCBench (Ellis/Kovac, modified by Boehm),
 * shared by its two ports so they build exactly the same trees.
 */
#ifndef HEAPD_GCBENCH_H
#define HEAPD_GCBENCH_H

enum {
	STRETCH_DEPTH = 18,
	LONG_LIVED_DEPTH = 16,
	ARRAY_SIZE = 500000,
	MIN_DEPTH = 4,
	MAX_DEPTH = 16,
};

/* Nodes in a complete binary tree of depth. */
static inline int tree_size(int depth)
{
	return (1 << (depth + 1)) - 1;
}

/* Trees of depth built per phase: as many nodes as two stretch trees. */
static inline int num_iters(int depth)
{
	return 2 * tree_size(STRETCH_DEPTH) / tree_size(depth);
}

#endif
