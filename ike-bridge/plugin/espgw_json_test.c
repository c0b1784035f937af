/*
 * Copyright (C) 2026 The espgw authors
 *
 * This program is free software; you can redistribute it and/or modify it
 * under the terms of the GNU General Public License as published by the
 * Free Software Foundation; either version 2 of the License, or (at your
 * option) any later version.  See <http://www.fsf.org/copyleft/gpl.txt>.
 *
 * This program is distributed in the hope that it will be useful, but
 * WITHOUT ANY WARRANTY; without even the implied warranty of MERCHANTABILITY
 * or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU General Public License
 * for more details.
 */

/*
 * The plugin's JSON writer and reader on their own: what it sends must be
 * one valid line whatever the strings hold, and what espgw answers (flat
 * objects, possibly with nested members it does not read) must be read
 * exactly, and anything that is not a JSON object refused.
 */

#include "espgw_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		failures++; \
	} \
} while (0)

static void check_str(espgw_json_t *obj, const char *key, const char *want,
					  int line)
{
	char *got = espgw_json_get_string(obj, key);

	if (!got || strcmp(got, want) != 0)
	{
		fprintf(stderr, "%s:%d: member %s: got %s, want %s\n", __FILE__, line,
				key, got ? got : "(none)", want);
		failures++;
	}
	free(got);
}
#define CHECK_STR(obj, key, want) check_str(obj, key, want, __LINE__)

static void test_writer(void)
{
	espgw_json_writer_t w;
	const char *text;
	size_t len;
	static const uint8_t key[] = { 0x00, 0x01, 0xab, 0xff };

	espgw_json_writer_init(&w);
	espgw_json_object_begin(&w, NULL);
	espgw_json_string(&w, "cmd", "sa-add");
	espgw_json_uint(&w, "if_id", 4294967294u);
	espgw_json_object_begin(&w, "sa");
	espgw_json_uint(&w, "spi", 256);
	espgw_json_hex(&w, "key", key, sizeof(key));
	espgw_json_object_end(&w);
	espgw_json_array_begin(&w, "ts");
	espgw_json_string(&w, NULL, "10.0.0.0/8");
	espgw_json_string(&w, NULL, "2001:db8::/32");
	espgw_json_array_end(&w);
	espgw_json_array_begin(&w, "empty");
	espgw_json_array_end(&w);
	espgw_json_bool(&w, "esn", false);
	espgw_json_bool(&w, "nat_t", true);
	espgw_json_uint(&w, "max", UINT64_MAX);
	espgw_json_object_end(&w);
	text = espgw_json_writer_finish(&w, &len);
	CHECK(text != NULL);
	CHECK(len == strlen(text));
	CHECK(strcmp(text,
		"{\"cmd\":\"sa-add\",\"if_id\":4294967294,\"sa\":{\"spi\":256,"
		"\"key\":\"0x0001abff\"},\"ts\":[\"10.0.0.0/8\",\"2001:db8::/32\"],"
		"\"empty\":[],\"esn\":false,\"nat_t\":true,"
		"\"max\":18446744073709551615}\n") == 0);
	espgw_json_writer_wipe(&w);
	CHECK(w.buf == NULL && w.len == 0);
}

static void test_escapes(void)
{
	espgw_json_writer_t w;
	espgw_json_t *obj;
	const char *text;
	size_t len;
	const char *nasty = "quote\" backslash\\ nl\n cr\r tab\t bell\a del\x7f "
						"utf8 \xc3\xa9 \xe2\x82\xac";

	espgw_json_writer_init(&w);
	espgw_json_object_begin(&w, NULL);
	espgw_json_string(&w, "k\"ey", nasty);
	espgw_json_object_end(&w);
	text = espgw_json_writer_finish(&w, &len);
	CHECK(text != NULL);
	/* one line: the only newline ends it */
	CHECK(strchr(text, '\n') == text + len - 1);
	CHECK(strstr(text, "\\u0007") != NULL);
	CHECK(strstr(text, "\\u007f") != NULL);
	obj = espgw_json_parse(text, len);
	CHECK(obj != NULL);
	if (obj)
	{
		CHECK_STR(obj, "k\"ey", nasty);
	}
	espgw_json_free(obj);
	espgw_json_writer_wipe(&w);
}

static void test_long_string(void)
{
	espgw_json_writer_t w;
	espgw_json_t *obj;
	const char *text;
	size_t len, n = 100000;
	char *big = malloc(n + 1);

	memset(big, 'x', n);
	big[n] = '\0';
	espgw_json_writer_init(&w);
	espgw_json_object_begin(&w, NULL);
	espgw_json_string(&w, "big", big);
	espgw_json_object_end(&w);
	text = espgw_json_writer_finish(&w, &len);
	CHECK(text != NULL && len == n + 11);
	obj = espgw_json_parse(text, len);
	CHECK(obj != NULL);
	if (obj)
	{
		CHECK_STR(obj, "big", big);
	}
	espgw_json_free(obj);
	espgw_json_writer_wipe(&w);
	free(big);
}

static void test_reader(void)
{
	/* what espgw sends: nlohmann's dump, keys sorted, nested members */
	const char *resp = "{\"bytes\":123456,\"drops\":{\"a\":[1,{\"b\":null}]},"
					   "\"last_use_s\":12,\"ok\":true,\"packets\":789,"
					   "\"spi\":\"0xc3a1f00d\",\"neg\":-1,\"frac\":1.5,"
					   "\"exp\":1e3,\"big\":18446744073709551616}";
	espgw_json_t *obj;
	uint64_t v;
	bool b;

	obj = espgw_json_parse(resp, strlen(resp));
	CHECK(obj != NULL);
	if (!obj)
	{
		return;
	}
	CHECK(espgw_json_get_uint(obj, "bytes", &v) && v == 123456);
	CHECK(espgw_json_get_uint(obj, "packets", &v) && v == 789);
	CHECK(espgw_json_get_uint(obj, "last_use_s", &v) && v == 12);
	CHECK(espgw_json_get_bool(obj, "ok", &b) && b);
	CHECK_STR(obj, "spi", "0xc3a1f00d");
	CHECK(espgw_json_has(obj, "drops"));
	CHECK(!espgw_json_get_uint(obj, "drops", &v));
	CHECK(!espgw_json_get_string(obj, "drops"));
	CHECK(!espgw_json_get_uint(obj, "neg", &v));
	CHECK(!espgw_json_get_uint(obj, "frac", &v));
	CHECK(!espgw_json_get_uint(obj, "exp", &v));
	CHECK(!espgw_json_get_uint(obj, "big", &v));
	CHECK(!espgw_json_get_bool(obj, "bytes", &b));
	CHECK(!espgw_json_has(obj, "missing"));
	CHECK(!espgw_json_get_uint(obj, "spi", &v));
	espgw_json_free(obj);

	obj = espgw_json_parse(" { } ", 5);
	CHECK(obj != NULL);
	CHECK(obj && !espgw_json_has(obj, "ok"));
	espgw_json_free(obj);

	/* error messages: escapes and \u sequences, including a surrogate pair */
	resp = "{\"ok\":false,\"error\":\"no tunnel \\\"a\\\\b\\\" \\u00e9\\ud83d\\ude00\\/\"}";
	obj = espgw_json_parse(resp, strlen(resp));
	CHECK(obj != NULL);
	if (obj)
	{
		CHECK(espgw_json_get_bool(obj, "ok", &b) && !b);
		CHECK_STR(obj, "error", "no tunnel \"a\\b\" \xc3\xa9\xf0\x9f\x98\x80/");
	}
	espgw_json_free(obj);

	/* a lone surrogate and \u0000 become U+FFFD, never a NUL in the string */
	resp = "{\"e\":\"a\\ud800b\\u0000c\"}";
	obj = espgw_json_parse(resp, strlen(resp));
	CHECK(obj != NULL);
	if (obj)
	{
		CHECK_STR(obj, "e", "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c");
	}
	espgw_json_free(obj);

	/* the last of duplicate members counts */
	resp = "{\"ok\":false,\"ok\":true}";
	obj = espgw_json_parse(resp, strlen(resp));
	CHECK(obj && espgw_json_get_bool(obj, "ok", &b) && b);
	espgw_json_free(obj);
}

static void test_refused(void)
{
	static const char *bad[] = {
		"", " ", "[]", "\"ok\"", "true", "1", "{", "}", "{\"ok\"}",
		"{\"ok\":}", "{\"ok\":true,}", "{\"ok\":true", "{ok:true}",
		"{\"ok\":tru}", "{\"ok\":true} x", "{\"a\":[1,]}", "{\"a\":[1}",
		"{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"tab\there\"}",
		"{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":{\"b\"}}",
		"{\"a\":\"unterminated}",
	};
	espgw_json_t *obj;
	char deep[200];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		obj = espgw_json_parse(bad[i], strlen(bad[i]));
		if (obj)
		{
			fprintf(stderr, "%s:%d: accepted: %s\n", __FILE__, __LINE__, bad[i]);
			failures++;
			espgw_json_free(obj);
		}
	}
	/* nesting deeper than espgw ever sends */
	strcpy(deep, "{\"a\":");
	for (i = 0; i < 60; i++)
	{
		strcat(deep, "[");
	}
	for (i = 0; i < 60; i++)
	{
		strcat(deep, "]");
	}
	strcat(deep, "}");
	obj = espgw_json_parse(deep, strlen(deep));
	CHECK(obj == NULL);
	espgw_json_free(obj);
	/* a NUL inside the text is not JSON */
	obj = espgw_json_parse("{\"a\":\"x\0y\"}", 11);
	CHECK(obj == NULL);
	espgw_json_free(obj);
}

int main(void)
{
	test_writer();
	test_escapes();
	test_long_string();
	test_reader();
	test_refused();
	if (failures)
	{
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("espgw_json: all checks passed\n");
	return 0;
}
