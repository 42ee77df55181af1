/*
 * handle.c - where tags come from, and read-only handles.
 *
 * A handle is word << 32 | place (internal.h). Knowing a handle is what
 * lets a client use an object (docs/security.md), so no number of handles
 * may tell anything about another's word:
 *
 * Tags. Each new object draws its tag from a ChaCha20 keystream
 * (libsodium) under a key from the kernel's random source, TAG_BUF tags
 * at a time: a few ns per tag, where a getrandom() per 4 KiB costs 10.
 * malloc.c replaces a 0 (null) or the slot's previous object's tag (a
 * chance of 2^-31) by that tag + 1, so the handle of the object a slot
 * last held always fails; an older one passes with probability 2^-32, as
 * any guess does.
 *
 * Read-only handles. The read-only handle of an object is ro << 32 |
 * place, with ro a MAC of (place, tag): SipHash-2-4 (libsodium) under
 * the heap's own key, cut to 32 bits, never 0 and never the tag itself.
 * obj_resolve_full() takes a handle whose word equals the header's tag as
 * full, one whose word equals ro(place, tag) as read-only, and refuses
 * any other. So the right is part of what the MAC covers: turning a
 * read-only handle into the full one means finding the tag, which the key
 * hides; a bit flipped gives a handle that fails. A full handle costs
 * nothing more to check than before; a read-only one a hash the first time
 * (the handle cache keeps the right with the object), a forged one a hash.
 * Handles stored in slots and roots keep their right, so a read-only
 * handle cannot be upgraded by storing it and reading it back.
 */
#include <string.h>

#include <sodium.h>

#include "internal.h"

_Static_assert(crypto_shorthash_siphash24_KEYBYTES == sizeof(((heap *)0)->ro_key), "ro_key size");
_Static_assert(crypto_stream_chacha20_KEYBYTES == sizeof(((heap *)0)->tag_key), "tag_key size");

int handle_init(heap *h)
{
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(h->tag_key, sizeof h->tag_key);
	randombytes_buf(h->ro_key, sizeof h->ro_key);
	h->tag_pos = TAG_BUF;
	return 0;
}

void tag_refill(heap *h)
{
	unsigned char nonce[crypto_stream_chacha20_NONCEBYTES];
	uint64_t n = h->tag_nonce++;
	memcpy(nonce, &n, sizeof nonce);
	crypto_stream_chacha20((unsigned char *)h->tag_buf, sizeof h->tag_buf, nonce, h->tag_key);
	h->tag_pos = 0;
}

uint32_t ro_word(const heap *h, uint32_t place, uint32_t tag)
{
	uint32_t in[3] = {place, tag, 0};
	for (;; in[2]++) {
		uint64_t mac;
		crypto_shorthash_siphash24((unsigned char *)&mac, (const unsigned char *)in, sizeof in, h->ro_key);
		uint32_t w = (uint32_t)mac;
		if (likely(w != 0 && w != tag))
			return w;
	}
}

__attribute__((noinline)) int obj_resolve_ro(const heap *h, uint32_t word, struct obj *o, uint8_t *p, struct span *s,
					      uint64_t hdr)
{
	uint32_t place = (uint32_t)((size_t)(p - h->base) >> 3);
	if (ro_word(h, place, hdr_tag(hdr)) != word)
		return HEAP_EBADREF;
	return obj_fill(o, p, s, hdr, 1);
}

int heap_ref_readonly(heap *h, heap_ref ref, heap_ref *out)
{
	struct obj o;
	int err = obj_resolve(h, ref, &o);
	if (err)
		return err;
	*out = o.ro ? ref : (heap_ref)ro_word(h, ref_place(ref), ref_tag(ref)) << 32 | ref_place(ref);
	return 0;
}

bool heap_ref_is_readonly(heap *h, heap_ref ref)
{
	struct obj o;
	return obj_resolve(h, ref, &o) == 0 && o.ro;
}
