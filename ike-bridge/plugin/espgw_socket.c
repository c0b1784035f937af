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

#include "espgw_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int espgw_socket_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
	{
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
	{
		return -1;
	}
	if (connect(fd, (struct sockaddr*)&addr, sizeof(addr)) < 0)
	{
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline; 1 ready, 0 timed out, -1 error. */
static int wait_for(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long left;
	int rc;

	while (true)
	{
		left = deadline - now_ms();
		if (left < 0)
		{
			left = 0;
		}
		rc = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (rc > 0)
		{
			return 1;
		}
		if (rc < 0 && errno != EINTR)
		{
			return -1;
		}
		if (rc == 0 && now_ms() >= deadline)
		{
			return 0;
		}
	}
}

bool espgw_socket_send(int fd, const char *data, size_t len, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	ssize_t n;
	int rc;

	while (len > 0)
	{
		n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
		{
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
		{
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		{
			rc = wait_for(fd, POLLOUT, deadline);
			if (rc > 0)
			{
				continue;
			}
			if (rc == 0)
			{
				errno = ETIMEDOUT;
			}
			return false;
		}
		return false;
	}
	return true;
}

void espgw_linebuf_reset(espgw_linebuf_t *lb)
{
	free(lb->buf);
	*lb = (espgw_linebuf_t){ 0 };
}

/* Removes the line returned last (kept until the next call). */
static void consume(espgw_linebuf_t *lb)
{
	char *nl;
	size_t used;

	if (!lb->buf)
	{
		return;
	}
	nl = memchr(lb->buf, '\0', lb->len);
	if (!nl)
	{
		return;
	}
	used = (size_t)(nl - lb->buf) + 1;
	memmove(lb->buf, lb->buf + used, lb->len - used);
	lb->len -= used;
}

espgw_read_t espgw_linebuf_read(espgw_linebuf_t *lb, int fd, int timeout_ms,
								char **line, size_t *len)
{
	long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	char *nl, *grown;
	ssize_t n;
	int rc;

	/* the previous line was terminated in place: its '\n' became '\0' */
	consume(lb);
	while (true)
	{
		nl = lb->len ? memchr(lb->buf, '\n', lb->len) : NULL;
		if (nl)
		{
			*nl = '\0';
			*line = lb->buf;
			*len = (size_t)(nl - lb->buf);
			return ESPGW_READ_LINE;
		}
		if (lb->len >= ESPGW_MAX_LINE)
		{
			errno = EMSGSIZE;
			return ESPGW_READ_ERROR;
		}
		if (lb->cap - lb->len < 4096)
		{
			size_t cap = lb->cap ? 2 * lb->cap : 8192;

			grown = realloc(lb->buf, cap);
			if (!grown)
			{
				errno = ENOMEM;
				return ESPGW_READ_ERROR;
			}
			lb->buf = grown;
			lb->cap = cap;
		}
		n = recv(fd, lb->buf + lb->len, lb->cap - lb->len, MSG_DONTWAIT);
		if (n > 0)
		{
			/* a NUL inside a line would cut it short: espgw never sends one */
			if (memchr(lb->buf + lb->len, '\0', (size_t)n))
			{
				errno = EBADMSG;
				return ESPGW_READ_ERROR;
			}
			lb->len += (size_t)n;
			continue;
		}
		if (n == 0)
		{
			return ESPGW_READ_EOF;
		}
		if (errno == EINTR)
		{
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
		{
			return ESPGW_READ_ERROR;
		}
		if (timeout_ms < 0)
		{
			return ESPGW_READ_AGAIN;
		}
		rc = wait_for(fd, POLLIN, deadline);
		if (rc == 0)
		{
			return ESPGW_READ_TIMEOUT;
		}
		if (rc < 0)
		{
			return ESPGW_READ_ERROR;
		}
	}
}
