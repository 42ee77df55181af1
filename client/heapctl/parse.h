/*
 * parse.h - heapctl's text forms, as pure functions (no I/O, no daemon):
 * refs, REF.SLOT, numbers, and a command line split into words as a shell
 * splits it. Every command that takes or prints a ref goes through here, so
 * there is one form (docs/heapctl.md, "Refs and root names"):
 *
 *   A ref is printed as 0x and lowercase hex without padding (0x1f00000003)
 *   and read as that (any case of hex digit) or as decimal. An argument
 *   that starts with 0x or is all digits is a ref; root:NAME is the root
 *   NAME; anything else is a root name.
 */
#ifndef HEAPD_HEAPCTL_PARSE_H
#define HEAPD_HEAPCTL_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "heapd.h"

/* "0x" and 16 hex digits, and a NUL. */
#define CTL_REF_MAX 19

const char *ctl_ref_text(char buf[CTL_REF_MAX], heapd_ref ref);
/* 0 with *out set, or -1 when s is not a ref in either form (empty, a
 * sign, other characters, or more than 64 bits). 0 is accepted: it is the
 * null ref, and the caller says whether it may be one. */
int ctl_parse_ref(const char *s, heapd_ref *out);

/* What an argument of the REF|ROOTNAME kind names. */
enum ctl_target_kind { CTL_TARGET_REF, CTL_TARGET_ROOT, CTL_TARGET_BAD };
/* CTL_TARGET_REF with *ref set; CTL_TARGET_ROOT with *root pointing into
 * s (past "root:", if there); CTL_TARGET_BAD for text that looks like a
 * ref (0x..., digits) but is not one, or an empty root name. */
enum ctl_target_kind ctl_parse_target(const char *s, heapd_ref *ref, const char **root);

/* A decimal number from 0 to max: 0, or -1 for anything else (a sign,
 * spaces, other characters, more than max). */
int ctl_parse_u32(const char *s, uint32_t max, uint32_t *out);

/* TARGET.SLOT, split at the last '.': the target's text copied into
 * target (at most size bytes with the NUL) and the slot. -1 when there is
 * no '.', nothing before it, the slot is not a number below 2^32, or the
 * target does not fit. */
int ctl_split_slot(const char *s, char *target, size_t size, uint32_t *slot);

/* Splits line into words as sh(1) does, without expansions: blanks
 * separate words; '...' keeps everything inside as it is; "..." keeps
 * everything but a backslash before " or \, which stands for that
 * character; outside quotes a backslash keeps the next character; a line
 * whose first word starts with # is a comment (no words). On success
 * returns the number of words, with *words a NULL-terminated array of
 * them, all in one allocation (free(*words)). On error returns -1 with
 * *err set to a static message: an unfinished quote or escape, or out of
 * memory. */
int ctl_split_words(const char *line, char ***words, const char **err);

#endif
