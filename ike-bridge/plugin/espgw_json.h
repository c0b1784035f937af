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

/**
 * The few JSON shapes the kernel-espgw plugin exchanges with espgw's control
 * socket (docs/ike-bridge.md): a writer for one-line requests and a reader
 * for the flat objects espgw answers with. No strongSwan dependency, so it is
 * tested on its own (espgw_json_test.c).
 *
 * Requests may hold key material: espgw_json_writer_wipe() overwrites the
 * buffer before freeing it, and nothing here ever logs.
 */

#ifndef ESPGW_JSON_H_
#define ESPGW_JSON_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct espgw_json_writer_t espgw_json_writer_t;
typedef struct espgw_json_t espgw_json_t;

/**
 * Builds one JSON value on one line. Members are written with a key inside
 * objects and with key NULL at the top and inside arrays; commas are added
 * as needed. An allocation failure is remembered and reported by finish().
 */
struct espgw_json_writer_t {
	char *buf;
	size_t len;
	size_t cap;
	bool failed;
	bool comma;
};

void espgw_json_writer_init(espgw_json_writer_t *w);
void espgw_json_object_begin(espgw_json_writer_t *w, const char *key);
void espgw_json_object_end(espgw_json_writer_t *w);
void espgw_json_array_begin(espgw_json_writer_t *w, const char *key);
void espgw_json_array_end(espgw_json_writer_t *w);
void espgw_json_string(espgw_json_writer_t *w, const char *key,
					   const char *value);
void espgw_json_uint(espgw_json_writer_t *w, const char *key, uint64_t value);
void espgw_json_bool(espgw_json_writer_t *w, const char *key, bool value);
/** "0x" and the bytes in lowercase hex (keys, salts). */
void espgw_json_hex(espgw_json_writer_t *w, const char *key,
					const uint8_t *data, size_t len);

/**
 * Ends the line with '\n'. Returns the text (owned by the writer) and its
 * length, or NULL if an allocation failed.
 */
const char *espgw_json_writer_finish(espgw_json_writer_t *w, size_t *len);

/** Overwrites and frees the buffer (it may hold keys). */
void espgw_json_writer_wipe(espgw_json_writer_t *w);

/**
 * Parses one JSON object (a response or event line) and keeps its top-level
 * members. The whole text must be valid JSON; nested values are checked and
 * skipped. Returns NULL if it is not a JSON object.
 */
espgw_json_t *espgw_json_parse(const char *text, size_t len);

/** A string member, unescaped, as a new NUL-terminated string (free()). */
char *espgw_json_get_string(espgw_json_t *obj, const char *key);
/** A non-negative integer member. */
bool espgw_json_get_uint(espgw_json_t *obj, const char *key, uint64_t *value);
/** A true/false member. */
bool espgw_json_get_bool(espgw_json_t *obj, const char *key, bool *value);
/** Whether the member exists, whatever its type. */
bool espgw_json_has(espgw_json_t *obj, const char *key);

void espgw_json_free(espgw_json_t *obj);

#endif /** ESPGW_JSON_H_ */
