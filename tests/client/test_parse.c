/*
 * test_parse.c - heapctl's text forms (client/heapctl/parse.c): refs
 * printed and read back, the REF|ROOTNAME rule, REF.SLOT, numbers, and
 * lines split into words as sh(1) splits them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "heapctl/parse.h"

static void refs_round_trip(void **state)
{
	(void)state;
	char buf[CTL_REF_MAX];
	const heapd_ref refs[] = {1, 0x1f00000003, UINT64_MAX, 0xabcdef};
	for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
		heapd_ref back = 0;
		assert_int_equal(ctl_parse_ref(ctl_ref_text(buf, refs[i]), &back), 0);
		assert_true(back == refs[i]);
	}
	assert_string_equal(ctl_ref_text(buf, 0x1f00000003), "0x1f00000003");
	assert_string_equal(ctl_ref_text(buf, UINT64_MAX), "0xffffffffffffffff");
	heapd_ref r;
	assert_int_equal(ctl_parse_ref("133143986179", &r), 0); /* decimal */
	assert_true(r == 0x1f00000003);
	assert_int_equal(ctl_parse_ref("0X1F00000003", &r), 0);
	assert_true(r == 0x1f00000003);
	assert_int_equal(ctl_parse_ref("18446744073709551615", &r), 0);
	assert_true(r == UINT64_MAX);
}

static void refs_refused(void **state)
{
	(void)state;
	const char *bad[] = {"", "0x", "-1", "+1", " 1", "1 ", "0x1g", "12a", "18446744073709551616",
			     "0x10000000000000000", "1.5"};
	heapd_ref r = 7;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (ctl_parse_ref(bad[i], &r) == 0)
			fail_msg("'%s' taken as a ref", bad[i]);
	}
	assert_true(r == 7); /* untouched */
}

static void targets(void **state)
{
	(void)state;
	heapd_ref r = 0;
	const char *root = NULL;
	assert_int_equal(ctl_parse_target("0x10", &r, &root), CTL_TARGET_REF);
	assert_true(r == 16);
	assert_int_equal(ctl_parse_target("42", &r, &root), CTL_TARGET_REF);
	assert_true(r == 42);
	assert_int_equal(ctl_parse_target("config", &r, &root), CTL_TARGET_ROOT);
	assert_string_equal(root, "config");
	assert_int_equal(ctl_parse_target("root:42", &r, &root), CTL_TARGET_ROOT);
	assert_string_equal(root, "42");
	assert_int_equal(ctl_parse_target("root:0x1", &r, &root), CTL_TARGET_ROOT);
	assert_string_equal(root, "0x1");
	assert_int_equal(ctl_parse_target("42a", &r, &root), CTL_TARGET_ROOT); /* not all digits */
	assert_int_equal(ctl_parse_target("0xzz", &r, &root), CTL_TARGET_BAD);
	assert_int_equal(ctl_parse_target("99999999999999999999", &r, &root), CTL_TARGET_BAD);
	assert_int_equal(ctl_parse_target("", &r, &root), CTL_TARGET_BAD);
	assert_int_equal(ctl_parse_target("root:", &r, &root), CTL_TARGET_BAD);
}

static void numbers_and_slots(void **state)
{
	(void)state;
	uint32_t v;
	assert_int_equal(ctl_parse_u32("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ctl_parse_u32("4294967295", UINT32_MAX, &v), 0);
	assert_true(v == UINT32_MAX);
	assert_int_equal(ctl_parse_u32("4294967296", UINT32_MAX, &v), -1);
	assert_int_equal(ctl_parse_u32("11", 10, &v), -1);
	assert_int_equal(ctl_parse_u32("-1", 10, &v), -1);
	assert_int_equal(ctl_parse_u32("", 10, &v), -1);
	assert_int_equal(ctl_parse_u32("x", 10, &v), -1);

	char target[16];
	assert_int_equal(ctl_split_slot("0x1f.3", target, sizeof target, &v), 0);
	assert_string_equal(target, "0x1f");
	assert_int_equal(v, 3);
	assert_int_equal(ctl_split_slot("a.b.12", target, sizeof target, &v), 0); /* the last dot */
	assert_string_equal(target, "a.b");
	assert_int_equal(v, 12);
	const char *bad[] = {"0x1f", ".3", "0x1f.", "0x1f.x", "0x1f.-1", "0x1f.4294967296", "a-name-too-long-here.1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (ctl_split_slot(bad[i], target, sizeof target, &v) == 0)
			fail_msg("'%s' taken as REF.SLOT", bad[i]);
}

/* Splits line and checks the words against want (NULL-terminated). */
static void expect_words(const char *line, ...)
{
	char **w;
	const char *err = NULL;
	int n = ctl_split_words(line, &w, &err);
	if (n < 0)
		fail_msg("'%s': %s", line, err);
	va_list ap;
	va_start(ap, line);
	int i = 0;
	for (const char *want; (want = va_arg(ap, const char *)) != NULL; i++) {
		if (i >= n)
			fail_msg("'%s': %d words, wanted more", line, n);
		assert_string_equal(w[i], want);
	}
	va_end(ap);
	assert_int_equal(n, i);
	assert_null(w[n]);
	free(w);
}

static void words(void **state)
{
	(void)state;
	expect_words("", NULL);
	expect_words("   \t ", NULL);
	expect_words("# a comment", NULL);
	expect_words("ping", "ping", NULL);
	expect_words("  get  x --hex \n", "get", "x", "--hex", NULL);
	expect_words("put x 'hello world'", "put", "x", "hello world", NULL);
	expect_words("put x \"say \\\"hi\\\" \\\\ \\n\"", "put", "x", "say \"hi\" \\ \\n", NULL);
	expect_words("put x a\\ b", "put", "x", "a b", NULL);
	expect_words("put x ''", "put", "x", "", NULL);
	expect_words("a'b'\"c\"d", "abcd", NULL);
	expect_words("new --root a#b", "new", "--root", "a#b", NULL);
	expect_words("'it''s'", "its", NULL);
	expect_words("x '\\n'", "x", "\\n", NULL);  /* nothing is special in '...' */
}

static void words_refused(void **state)
{
	(void)state;
	const char *bad[] = {"put x 'open", "put x \"open", "put x \\", "\"a\\\""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char **w = NULL;
		const char *err = NULL;
		assert_int_equal(ctl_split_words(bad[i], &w, &err), -1);
		assert_non_null(err);
		assert_null(w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refs_round_trip), cmocka_unit_test(refs_refused), cmocka_unit_test(targets),
		cmocka_unit_test(numbers_and_slots), cmocka_unit_test(words), cmocka_unit_test(words_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
