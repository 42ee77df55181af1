/*
 * handle.c - where tags come from, and read-only handles.
 *
 * A handle is word << 32 | place (internal.h). Knowing a handle is what
 * lets a client use an object (docs/security.md), so no number of handles
 * may tell anything about another's word:
 *
 * Tags. Each new object draws its tag from an AES-128-CTR keystream
 * (OpenSSL's libcrypto) under a key and a counter start from the
 * kernel's random source, TAG_BUF tags at a time: under half a
 * nanosecond per tag with AES-NI, where libsodium's ChaCha20 took 1.7
 * and a getrandom() per 4 KiB 15 (GCBench makes ten million objects in
 * 0.3 s). A 0 (null) or the slot's previous object's tag drawn (a
 * chance of 2^-31) becomes that tag + 1 (tag_redraw), so the handle of the
 * object a slot last held always fails; an older one passes with
 * probability 2^-32, as any guess does.
 *
 * Read-only handles. The read-only handle of an object is ro << 32 |
 * place, with ro a MAC of (place, tag): the first 32 bits of AES-128 of
 * the block (place, tag, n) under a second key, n counting up from 0
 * until the word is neither 0 nor the tag itself. obj_resolve_full()
 * takes a handle whose word equals the header's tag as full, one whose
 * word equals ro(place, tag) as read-only, and refuses any other. So the
 * right is part of what the MAC covers: turning a read-only handle into
 * the full one means finding the tag, which the key hides; a bit flipped
 * gives a handle that fails. A full handle costs nothing more to check
 * than before; a read-only one a block cipher call (about 20 ns) the
 * first time (the handle cache keeps the right with the object), a forged
 * one the same. Handles stored in slots and roots keep their right, so a
 * read-only handle cannot be upgraded by storing it and reading it back.
 *
 * Only the mutator thread uses the two cipher contexts.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "internal.h"

/* A context for cipher under a fresh random key (and counter start). */
static EVP_CIPHER_CTX *cipher_new(const EVP_CIPHER *cipher)
{
	unsigned char key[16], iv[16];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int ok = c && RAND_priv_bytes(key, sizeof key) == 1 && RAND_bytes(iv, sizeof iv) == 1 &&
		 EVP_EncryptInit_ex(c, cipher, NULL, key, iv) == 1 && EVP_CIPHER_CTX_set_padding(c, 0) == 1;
	OPENSSL_cleanse(key, sizeof key);
	if (!ok) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

int handle_init(heap *h)
{
	h->tag_ctx = cipher_new(EVP_aes_128_ctr());
	h->ro_ctx = cipher_new(EVP_aes_128_ecb());
	h->tag_buf[TAG_BUF] = 0;
	h->tag_pos = TAG_BUF;
	return h->tag_ctx && h->ro_ctx ? 0 : -1;
}

void handle_destroy(heap *h)
{
	EVP_CIPHER_CTX_free(h->tag_ctx);
	EVP_CIPHER_CTX_free(h->ro_ctx);
}

/* The cipher calls below fail only on misuse (a context heap_new made
 * and a whole number of blocks); a heap that went on after one would
 * hand out guessable handles. */
static void cipher_failed(const char *what)
{
	fprintf(stderr, "heap: %s failed\n", what);
	abort();
}

void tag_refill(heap *h)
{
	static const unsigned char zero[TAG_BUF * sizeof h->tag_buf[0]];
	int n;
	if (EVP_EncryptUpdate(h->tag_ctx, (unsigned char *)h->tag_buf, &n, zero, sizeof zero) != 1 ||
	    n != (int)sizeof zero)
		cipher_failed("the tag keystream");
	h->tag_pos = 0;
}

__attribute__((noinline)) uint32_t tag_redraw(heap *h, uint32_t old)
{
	if (h->tag_pos > TAG_BUF) {  /* it drew the end */
		tag_refill(h);
		uint32_t t = h->tag_buf[h->tag_pos++];
		if (likely(t != 0 && t != old))
			return t;
	}
	return old + 1 + (old == UINT32_MAX);
}

uint32_t ro_word(const heap *h, uint32_t place, uint32_t tag)
{
	uint32_t in[4] = {place, tag, 0, 0}, out[4];
	for (;; in[2]++) {
		int n;
		if (EVP_EncryptUpdate(h->ro_ctx, (unsigned char *)out, &n, (const unsigned char *)in, sizeof in) != 1 ||
		    n != (int)sizeof out)
			cipher_failed("the read-only handle MAC");
		if (likely(out[0] != 0 && out[0] != tag))
			return out[0];
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
