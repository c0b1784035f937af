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
 * The plugin's JSON: the writer for requests and the reader for answers and
 * events, the subset of JSON that espgw's control protocol uses. One file of
 * about 800 lines on purpose: one small codec, the writer and the reader of
 * the same subset, behind one header (espgw_json.h) and tested as one
 * (espgw_json_test.c). The plugin is C under the GPL and cannot use the
 * project's C++ JSON library.
 */

#include "espgw_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper nesting than this is refused: espgw's answers are flat. */
#define MAX_DEPTH 32

/* Like memset(0), but not optimised away: the buffer may hold keys. */
static void wipe(void *ptr, size_t len)
{
	volatile unsigned char *p = ptr;

	while (len--)
	{
		*p++ = 0;
	}
}

void espgw_json_writer_init(espgw_json_writer_t *w)
{
	*w = (espgw_json_writer_t){ 0 };
}

static void put(espgw_json_writer_t *w, const char *data, size_t len)
{
	char *grown;
	size_t cap;

	if (w->failed)
	{
		return;
	}
	if (w->len + len + 1 > w->cap)
	{
		cap = w->cap ? w->cap : 256;
		while (w->len + len + 1 > cap)
		{
			cap *= 2;
		}
		/* not realloc(): the old buffer may hold keys and must be wiped */
		grown = malloc(cap);
		if (!grown)
		{
			w->failed = true;
			return;
		}
		if (w->buf)
		{
			memcpy(grown, w->buf, w->len);
			wipe(w->buf, w->cap);
			free(w->buf);
		}
		w->buf = grown;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
	w->buf[w->len] = '\0';
}

static void put_str(espgw_json_writer_t *w, const char *s)
{
	put(w, s, strlen(s));
}

/* A JSON string literal: quotes, backslashes and control characters escaped;
 * other bytes (UTF-8) as they are. */
static void put_quoted(espgw_json_writer_t *w, const char *s)
{
	char esc[8];
	const char *start = s;

	put(w, "\"", 1);
	for (; *s; s++)
	{
		unsigned char c = (unsigned char)*s;
		const char *rep = NULL;

		switch (c)
		{
			case '"':
				rep = "\\\"";
				break;
			case '\\':
				rep = "\\\\";
				break;
			case '\n':
				rep = "\\n";
				break;
			case '\r':
				rep = "\\r";
				break;
			case '\t':
				rep = "\\t";
				break;
			case '\b':
				rep = "\\b";
				break;
			case '\f':
				rep = "\\f";
				break;
			default:
				if (c < 0x20 || c == 0x7f)
				{
					snprintf(esc, sizeof(esc), "\\u%04x", c);
					rep = esc;
				}
				break;
		}
		if (rep)
		{
			put(w, start, (size_t)(s - start));
			put_str(w, rep);
			start = s + 1;
		}
	}
	put(w, start, (size_t)(s - start));
	put(w, "\"", 1);
}

/* The comma before a member, and its key. */
static void member(espgw_json_writer_t *w, const char *key)
{
	if (w->comma)
	{
		put(w, ",", 1);
	}
	if (key)
	{
		put_quoted(w, key);
		put(w, ":", 1);
	}
	w->comma = true;
}

void espgw_json_object_begin(espgw_json_writer_t *w, const char *key)
{
	member(w, key);
	put(w, "{", 1);
	w->comma = false;
}

void espgw_json_object_end(espgw_json_writer_t *w)
{
	put(w, "}", 1);
	w->comma = true;
}

void espgw_json_array_begin(espgw_json_writer_t *w, const char *key)
{
	member(w, key);
	put(w, "[", 1);
	w->comma = false;
}

void espgw_json_array_end(espgw_json_writer_t *w)
{
	put(w, "]", 1);
	w->comma = true;
}

void espgw_json_string(espgw_json_writer_t *w, const char *key,
					   const char *value)
{
	member(w, key);
	put_quoted(w, value);
}

void espgw_json_uint(espgw_json_writer_t *w, const char *key, uint64_t value)
{
	char num[24];

	member(w, key);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)value);
	put_str(w, num);
}

void espgw_json_bool(espgw_json_writer_t *w, const char *key, bool value)
{
	member(w, key);
	put_str(w, value ? "true" : "false");
}

void espgw_json_hex(espgw_json_writer_t *w, const char *key,
					const uint8_t *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char pair[2];
	size_t i;

	member(w, key);
	put(w, "\"0x", 3);
	for (i = 0; i < len; i++)
	{
		pair[0] = digits[data[i] >> 4];
		pair[1] = digits[data[i] & 0x0f];
		put(w, pair, 2);
	}
	wipe(pair, sizeof(pair));
	put(w, "\"", 1);
}

const char *espgw_json_writer_finish(espgw_json_writer_t *w, size_t *len)
{
	put(w, "\n", 1);
	if (w->failed)
	{
		return NULL;
	}
	*len = w->len;
	return w->buf;
}

void espgw_json_writer_wipe(espgw_json_writer_t *w)
{
	if (w->buf)
	{
		wipe(w->buf, w->cap);
		free(w->buf);
	}
	*w = (espgw_json_writer_t){ 0 };
}

/* ---- reader ---- */

typedef enum {
	VALUE_STRING,
	VALUE_NUMBER,
	VALUE_TRUE,
	VALUE_FALSE,
	VALUE_NULL,
	VALUE_OTHER,	/* object or array: skipped */
} value_type_t;

typedef struct {
	char *key;				/* unescaped */
	value_type_t type;
	const char *raw;		/* into the parsed text: a string without its quotes */
	size_t raw_len;
} json_member_t;

struct espgw_json_t {
	char *text;				/* a copy of the line */
	json_member_t *members;
	size_t count;
};

typedef struct {
	const char *p;
	const char *end;
} cursor_t;

static void skip_ws(cursor_t *c)
{
	while (c->p < c->end &&
		   (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
	{
		c->p++;
	}
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
	{
		return ch - '0';
	}
	if (ch >= 'a' && ch <= 'f')
	{
		return ch - 'a' + 10;
	}
	if (ch >= 'A' && ch <= 'F')
	{
		return ch - 'A' + 10;
	}
	return -1;
}

static bool read_u16(const char *p, const char *end, unsigned *out)
{
	int i, v;

	if (end - p < 4)
	{
		return false;
	}
	*out = 0;
	for (i = 0; i < 4; i++)
	{
		v = hex_value(p[i]);
		if (v < 0)
		{
			return false;
		}
		*out = (*out << 4) | (unsigned)v;
	}
	return true;
}

/* A string literal at c->p (the opening quote); leaves c->p after it and
 * sets its contents' span (escapes not resolved). */
static bool scan_string(cursor_t *c, const char **raw, size_t *raw_len)
{
	unsigned u;

	if (c->p >= c->end || *c->p != '"')
	{
		return false;
	}
	c->p++;
	*raw = c->p;
	while (c->p < c->end)
	{
		unsigned char ch = (unsigned char)*c->p;

		if (ch == '"')
		{
			*raw_len = (size_t)(c->p - *raw);
			c->p++;
			return true;
		}
		if (ch < 0x20)
		{
			return false;
		}
		if (ch == '\\')
		{
			c->p++;
			if (c->p >= c->end)
			{
				return false;
			}
			switch (*c->p)
			{
				case '"': case '\\': case '/': case 'b': case 'f':
				case 'n': case 'r': case 't':
					break;
				case 'u':
					if (!read_u16(c->p + 1, c->end, &u))
					{
						return false;
					}
					c->p += 4;
					break;
				default:
					return false;
			}
		}
		c->p++;
	}
	return false;
}

static void put_utf8(char **out, unsigned cp)
{
	char *o = *out;

	if (cp < 0x80)
	{
		*o++ = (char)cp;
	}
	else if (cp < 0x800)
	{
		*o++ = (char)(0xc0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	else if (cp < 0x10000)
	{
		*o++ = (char)(0xe0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	else
	{
		*o++ = (char)(0xf0 | (cp >> 18));
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	*out = o;
}

/* The contents of a scanned string literal with its escapes resolved. A NUL
 * (\u0000) or a lone surrogate becomes U+FFFD. */
static char *unescape(const char *raw, size_t len)
{
	const char *p = raw, *end = raw + len;
	char *out, *o;
	unsigned cp = 0, lo = 0;

	/* an escape never grows: \uXXXX (6) gives at most 3 bytes, a surrogate
	 * pair (12) 4 bytes */
	out = malloc(len + 1);
	if (!out)
	{
		return NULL;
	}
	o = out;
	while (p < end)
	{
		if (*p != '\\')
		{
			*o++ = *p++;
			continue;
		}
		p++;
		switch (*p)
		{
			case 'b': *o++ = '\b'; p++; break;
			case 'f': *o++ = '\f'; p++; break;
			case 'n': *o++ = '\n'; p++; break;
			case 'r': *o++ = '\r'; p++; break;
			case 't': *o++ = '\t'; p++; break;
			case 'u':
				read_u16(p + 1, end, &cp);
				p += 5;
				if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 &&
					p[0] == '\\' && p[1] == 'u' && read_u16(p + 2, end, &lo) &&
					lo >= 0xdc00 && lo < 0xe000)
				{
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				}
				else if ((cp >= 0xd800 && cp < 0xe000) || cp == 0)
				{
					cp = 0xfffd;
				}
				put_utf8(&o, cp);
				break;
			default:	/* " \ / */
				*o++ = *p++;
				break;
		}
	}
	*o = '\0';
	return out;
}

static bool scan_value(cursor_t *c, int depth, value_type_t *type,
					   const char **raw, size_t *raw_len);

static bool scan_number(cursor_t *c)
{
	const char *start = c->p;

	if (c->p < c->end && *c->p == '-')
	{
		c->p++;
	}
	if (c->p >= c->end || *c->p < '0' || *c->p > '9')
	{
		return false;
	}
	if (*c->p == '0')
	{
		c->p++;
	}
	else
	{
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		{
			c->p++;
		}
	}
	if (c->p < c->end && *c->p == '.')
	{
		c->p++;
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
		{
			return false;
		}
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		{
			c->p++;
		}
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E'))
	{
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
		{
			c->p++;
		}
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
		{
			return false;
		}
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		{
			c->p++;
		}
	}
	return c->p > start;
}

static bool scan_literal(cursor_t *c, const char *word)
{
	size_t len = strlen(word);

	if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len) != 0)
	{
		return false;
	}
	c->p += len;
	return true;
}

/* An object or array at c->p, skipped. */
static bool skip_container(cursor_t *c, int depth)
{
	const char *raw;
	size_t raw_len;
	value_type_t type;
	char close = *c->p == '{' ? '}' : ']';
	bool object = close == '}';

	if (depth >= MAX_DEPTH)
	{
		return false;
	}
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == close)
	{
		c->p++;
		return true;
	}
	while (true)
	{
		if (object)
		{
			skip_ws(c);
			if (!scan_string(c, &raw, &raw_len))
			{
				return false;
			}
			skip_ws(c);
			if (c->p >= c->end || *c->p != ':')
			{
				return false;
			}
			c->p++;
		}
		if (!scan_value(c, depth + 1, &type, &raw, &raw_len))
		{
			return false;
		}
		skip_ws(c);
		if (c->p >= c->end)
		{
			return false;
		}
		if (*c->p == close)
		{
			c->p++;
			return true;
		}
		if (*c->p != ',')
		{
			return false;
		}
		c->p++;
	}
}

static bool scan_value(cursor_t *c, int depth, value_type_t *type,
					   const char **raw, size_t *raw_len)
{
	const char *start;

	skip_ws(c);
	if (c->p >= c->end)
	{
		return false;
	}
	start = c->p;
	switch (*c->p)
	{
		case '"':
			*type = VALUE_STRING;
			return scan_string(c, raw, raw_len);
		case '{':
		case '[':
			*type = VALUE_OTHER;
			break;
		case 't':
			*type = VALUE_TRUE;
			return scan_literal(c, "true");
		case 'f':
			*type = VALUE_FALSE;
			return scan_literal(c, "false");
		case 'n':
			*type = VALUE_NULL;
			return scan_literal(c, "null");
		default:
			*type = VALUE_NUMBER;
			if (!scan_number(c))
			{
				return false;
			}
			*raw = start;
			*raw_len = (size_t)(c->p - start);
			return true;
	}
	if (!skip_container(c, depth))
	{
		return false;
	}
	*raw = start;
	*raw_len = (size_t)(c->p - start);
	return true;
}

void espgw_json_free(espgw_json_t *obj)
{
	size_t i;

	if (!obj)
	{
		return;
	}
	for (i = 0; i < obj->count; i++)
	{
		free(obj->members[i].key);
	}
	free(obj->members);
	free(obj->text);
	free(obj);
}

espgw_json_t *espgw_json_parse(const char *text, size_t len)
{
	espgw_json_t *obj;
	json_member_t m, *grown;
	const char *key;
	size_t key_len, cap = 0;
	cursor_t c;

	obj = calloc(1, sizeof(*obj));
	if (!obj)
	{
		return NULL;
	}
	obj->text = malloc(len + 1);
	if (!obj->text)
	{
		free(obj);
		return NULL;
	}
	memcpy(obj->text, text, len);
	obj->text[len] = '\0';
	c = (cursor_t){ .p = obj->text, .end = obj->text + len };

	skip_ws(&c);
	if (c.p >= c.end || *c.p != '{')
	{
		goto fail;
	}
	c.p++;
	skip_ws(&c);
	if (c.p < c.end && *c.p == '}')
	{
		c.p++;
		goto done;
	}
	while (true)
	{
		skip_ws(&c);
		if (!scan_string(&c, &key, &key_len))
		{
			goto fail;
		}
		skip_ws(&c);
		if (c.p >= c.end || *c.p != ':')
		{
			goto fail;
		}
		c.p++;
		m = (json_member_t){ 0 };
		if (!scan_value(&c, 1, &m.type, &m.raw, &m.raw_len))
		{
			goto fail;
		}
		if (obj->count == cap)
		{
			cap = cap ? 2 * cap : 8;
			grown = realloc(obj->members, cap * sizeof(*grown));
			if (!grown)
			{
				goto fail;
			}
			obj->members = grown;
		}
		m.key = unescape(key, key_len);
		if (!m.key)
		{
			goto fail;
		}
		obj->members[obj->count++] = m;
		skip_ws(&c);
		if (c.p >= c.end)
		{
			goto fail;
		}
		if (*c.p == '}')
		{
			c.p++;
			break;
		}
		if (*c.p != ',')
		{
			goto fail;
		}
		c.p++;
	}
done:
	skip_ws(&c);
	if (c.p != c.end)
	{
		goto fail;
	}
	return obj;

fail:
	espgw_json_free(obj);
	return NULL;
}

/* The last member of that name (as most parsers resolve duplicates). */
static json_member_t *find(espgw_json_t *obj, const char *key)
{
	size_t i;

	for (i = obj->count; i > 0; i--)
	{
		if (strcmp(obj->members[i - 1].key, key) == 0)
		{
			return &obj->members[i - 1];
		}
	}
	return NULL;
}

bool espgw_json_has(espgw_json_t *obj, const char *key)
{
	return find(obj, key) != NULL;
}

char *espgw_json_get_string(espgw_json_t *obj, const char *key)
{
	json_member_t *m = find(obj, key);

	if (!m || m->type != VALUE_STRING)
	{
		return NULL;
	}
	return unescape(m->raw, m->raw_len);
}

bool espgw_json_get_uint(espgw_json_t *obj, const char *key, uint64_t *value)
{
	json_member_t *m = find(obj, key);
	uint64_t v = 0;
	size_t i;

	if (!m || m->type != VALUE_NUMBER)
	{
		return false;
	}
	for (i = 0; i < m->raw_len; i++)
	{
		unsigned d = (unsigned)(m->raw[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
		{	/* a sign, a fraction, an exponent or too large */
			return false;
		}
		v = v * 10 + d;
	}
	*value = v;
	return true;
}

bool espgw_json_get_bool(espgw_json_t *obj, const char *key, bool *value)
{
	json_member_t *m = find(obj, key);

	if (!m || (m->type != VALUE_TRUE && m->type != VALUE_FALSE))
	{
		return false;
	}
	*value = m->type == VALUE_TRUE;
	return true;
}
