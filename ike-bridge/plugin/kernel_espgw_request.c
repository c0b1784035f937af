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
 * The request connection to espgw's control socket: one request at a time
 * under the mutex, one JSON line each way. A connection that breaks is made
 * again once, which resyncs espgw (kernel_espgw_resync.c).
 */

#include "kernel_espgw_private.h"

void close_request(private_kernel_espgw_ipsec_t *this)
{
	if (this->fd >= 0)
	{
		close(this->fd);
	}
	this->fd = -1;
	espgw_linebuf_reset(&this->in);
}

/**
 * One request and its answer on the current connection (mutex held).
 */
exchange_t exchange(private_kernel_espgw_ipsec_t *this,
					const char *req, size_t len, espgw_json_t **resp)
{
	char *line;
	size_t line_len;

	if (!espgw_socket_send(this->fd, req, len, this->timeout_ms))
	{
		DBG1(DBG_KNL, "kernel-espgw: sending to espgw failed: %s",
			 strerror(errno));
		return errno == ETIMEDOUT ? EXCHANGE_TIMEOUT : EXCHANGE_IO;
	}
	switch (espgw_linebuf_read(&this->in, this->fd, this->timeout_ms, &line,
							   &line_len))
	{
		case ESPGW_READ_LINE:
			*resp = espgw_json_parse(line, line_len);
			if (!*resp)
			{
				DBG1(DBG_KNL, "kernel-espgw: espgw's answer is not a JSON "
					 "object");
				return EXCHANGE_IO;
			}
			return EXCHANGE_OK;
		case ESPGW_READ_TIMEOUT:
			DBG1(DBG_KNL, "kernel-espgw: no answer from espgw within %d ms",
				 this->timeout_ms);
			return EXCHANGE_TIMEOUT;
		case ESPGW_READ_EOF:
			DBG1(DBG_KNL, "kernel-espgw: espgw closed the connection");
			return EXCHANGE_IO;
		default:
			DBG1(DBG_KNL, "kernel-espgw: reading from espgw failed: %s",
				 strerror(errno));
			return EXCHANGE_IO;
	}
}

/**
 * Whether an answer says ok; logs espgw's error with what was asked if not,
 * at level 1, or at level 2 for queries (charon repeats them, and their
 * failure only leaves a counter unknown).
 */
bool answer_ok_level(espgw_json_t *resp, const char *what, int level)
{
	bool ok = FALSE;
	char *error;

	if (espgw_json_get_bool(resp, "ok", &ok) && ok)
	{
		return TRUE;
	}
	/* logged as it is: espgw never quotes key material in an error (the rule
	 * of common/redact.h, which this C code cannot link; it repeats no input
	 * of its own) */
	error = espgw_json_get_string(resp, "error");
	if (level <= 1)
	{
		DBG1(DBG_KNL, "kernel-espgw: espgw refused %s: %s", what,
			 error ? error : "(no error message)");
	}
	else
	{
		DBG2(DBG_KNL, "kernel-espgw: espgw refused %s: %s", what,
			 error ? error : "(no error message)");
	}
	free(error);
	return FALSE;
}

bool answer_ok(espgw_json_t *resp, const char *what)
{
	return answer_ok_level(resp, what, 1);
}

/**
 * Sends a request and reads the answer, connecting first if needed (mutex
 * held). A connection that breaks is made again once, which resyncs espgw;
 * resynced says whether that happened during this call. The request is
 * taken from the writer, which the caller wipes.
 */
status_t request(private_kernel_espgw_ipsec_t *this,
				 espgw_json_writer_t *w, espgw_json_t **resp,
				 bool *resynced)
{
	const char *req;
	size_t len;
	int attempt;

	if (resynced)
	{
		*resynced = FALSE;
	}
	req = espgw_json_writer_finish(w, &len);
	if (!req)
	{
		DBG1(DBG_KNL, "kernel-espgw: out of memory for a request");
		return FAILED;
	}
	for (attempt = 0; attempt < 2; attempt++)
	{
		if (this->fd < 0)
		{
			if (!connect_request(this))
			{
				return FAILED;
			}
			if (resynced)
			{
				*resynced = TRUE;
			}
		}
		switch (exchange(this, req, len, resp))
		{
			case EXCHANGE_OK:
				return SUCCESS;
			case EXCHANGE_TIMEOUT:
				/* what espgw did with it is unknown: the next request
				 * connects again and resyncs */
				close_request(this);
				return FAILED;
			case EXCHANGE_IO:
				close_request(this);
				break;
		}
	}
	return FAILED;
}

/**
 * A request whose answer only needs to be ok.
 */
status_t simple_request(private_kernel_espgw_ipsec_t *this,
						espgw_json_writer_t *w, const char *what)
{
	espgw_json_t *resp = NULL;
	status_t status;

	status = request(this, w, &resp, NULL);
	if (status == SUCCESS && !answer_ok(resp, what))
	{
		status = FAILED;
	}
	espgw_json_free(resp);
	return status;
}
