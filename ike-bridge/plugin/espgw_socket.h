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
 * espgw's control socket as the plugin uses it: a Unix stream socket that
 * carries one JSON object per line each way (docs/control-protocol.md).
 * No strongSwan dependency.
 */

#ifndef ESPGW_SOCKET_H_
#define ESPGW_SOCKET_H_

#include <stdbool.h>
#include <stddef.h>

/** Bytes received and not yet returned as lines. */
typedef struct {
	char *buf;
	size_t len;
	size_t cap;
} espgw_linebuf_t;

/** Longest line accepted from espgw (its answers are small). */
#define ESPGW_MAX_LINE (1024 * 1024)

/**
 * Connects to the socket at path (close-on-exec). Returns the descriptor, or
 * -1 with errno set.
 */
int espgw_socket_connect(const char *path);

/**
 * Writes all of data, waiting at most timeout_ms for room; never raises
 * SIGPIPE. false with errno set on failure.
 */
bool espgw_socket_send(int fd, const char *data, size_t len, int timeout_ms);

/** Results of espgw_linebuf_read(). */
typedef enum {
	ESPGW_READ_LINE,		/**< a line is returned */
	ESPGW_READ_AGAIN,		/**< no complete line yet (non-blocking use) */
	ESPGW_READ_EOF,			/**< the peer closed the connection */
	ESPGW_READ_TIMEOUT,		/**< no line within the time given */
	ESPGW_READ_ERROR,		/**< errno says why; also a line too long */
} espgw_read_t;

/**
 * The next line from fd, without its '\n', NUL-terminated, valid until the
 * next call on the buffer. timeout_ms < 0: do not wait for data that has
 * not arrived (for a watcher callback on a non-blocking socket); otherwise
 * wait at most that long.
 */
espgw_read_t espgw_linebuf_read(espgw_linebuf_t *lb, int fd, int timeout_ms,
								char **line, size_t *len);

/** Drops buffered bytes and frees the buffer. */
void espgw_linebuf_reset(espgw_linebuf_t *lb);

#endif /** ESPGW_SOCKET_H_ */
