/*
 * test_text.c - text from clients (daemon/text.c): what is a valid root
 * name, where a quote may be cut, how a client's name reaches the log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

#define VALID(s) text_valid((s), sizeof(s) - 1)

static void valid_names(void **state)
{
	(void)state;
	assert_true(VALID("roots/a-b_c.d"));
	assert_true(VALID("\xcf\x80"));             /* U+03C0 */
	assert_true(VALID("\xe2\x82\xac"));         /* U+20AC */
	assert_true(VALID("\xf0\x9f\x98\x80"));     /* U+1F600 */
	assert_true(VALID("\xf4\x8f\xbf\xbf"));     /* U+10FFFF */
	assert_true(VALID("\xc2\xa0"));             /* U+00A0, past C1 */
}

static void invalid_names(void **state)
{
	(void)state;
	assert_false(VALID("a\nb"));
	assert_false(VALID("\x1b[31m"));            /* an escape sequence */
	assert_false(VALID("a\x7f"));               /* DEL */
	assert_false(VALID("\xc2\x85"));            /* U+0085, C1 */
	assert_false(VALID("a\xff"));
	assert_false(VALID("\xc0\xaf"));            /* overlong '/' */
	assert_false(VALID("\xe0\x80\xaf"));        /* overlong, 3 bytes */
	assert_false(VALID("\xed\xa0\x80"));        /* a surrogate */
	assert_false(VALID("\xf4\x90\x80\x80"));    /* past U+10FFFF */
	assert_false(VALID("\xe2\x82"));            /* cut short */
	assert_false(VALID("\x80"));                /* a continuation alone */
	assert_false(text_valid("a\0b", 3));        /* NUL */
}

static void cut_at_boundaries(void **state)
{
	(void)state;
	const char *s = "ab\xe2\x82\xac" "cd";     /* a, b, U+20AC, c, d */
	size_t len = strlen(s);
	assert_int_equal(text_cut(s, len, 2), 2);
	assert_int_equal(text_cut(s, len, 3), 2);   /* not inside the euro */
	assert_int_equal(text_cut(s, len, 4), 2);
	assert_int_equal(text_cut(s, len, 5), 5);
	assert_int_equal(text_cut(s, len, 100), len);
	assert_int_equal(text_cut("\xff\xff", 2, 1), 1);  /* bytes that are no character: one each */
}

static void escaped_for_the_log(void **state)
{
	(void)state;
	char out[64];
	const char *evil = "x\nheapd: error: forged\x1b[31m\\\xcf\x80";
	text_escape(out, sizeof out, evil, strlen(evil));
	assert_string_equal(out, "x\\x0aheapd: error: forged\\x1b[31m\\x5c\xcf\x80");
	/* Cut whole: never half an escape or half a character. */
	text_escape(out, 6, "ab\ncd", 5);
	assert_string_equal(out, "ab");
	text_escape(out, 4, "a\xcf\x80", 3);
	assert_string_equal(out, "a\xcf\x80");
	text_escape(out, 3, "a\xcf\x80", 3);
	assert_string_equal(out, "a");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_names),
		cmocka_unit_test(invalid_names),
		cmocka_unit_test(cut_at_boundaries),
		cmocka_unit_test(escaped_for_the_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
