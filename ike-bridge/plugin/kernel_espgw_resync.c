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
 * (Re)connecting the request connection. espgw forgets every IKE SA when it
 * restarts: one transaction flushes espgw's IKE SAs and adds every SA charon
 * installed again. espgw takes up each SA's sequence numbers and replay window
 * from its state file (docs/sa-state.md) and says how many it resumed; where
 * it could not resume them all, a soft expire per CHILD_SA has charon rekey at
 * once (a re-added outbound SA without its state restarts at sequence number
 * 1, which the peer's replay window refuses).
 */

#include "kernel_espgw_private.h"

/**
 * Which SA an apply error names ("ops[N] sa-add: ..."; op 0 is the flush),
 * or NULL.
 */
static sa_entry_t *refused_sa(char *error, array_t *order)
{
	sa_entry_t *sa = NULL;
	int idx;

	if (error && sscanf(error, "ops[%d]", &idx) == 1 && idx >= 1 &&
		idx - 1 < array_count(order))
	{
		array_get(order, idx - 1, &sa);
	}
	return sa;
}

/**
 * Connects the request connection and brings espgw in line with what charon
 * installed: one transaction that flushes espgw's IKE SAs and adds every
 * known SA again (one rebuild of espgw's tables, whatever their number), then
 * a soft expire per CHILD_SA so charon rekeys (mutex held). An SA espgw
 * refuses (named by its op) gets a hard expire and the rest are sent again.
 */
bool connect_request(private_kernel_espgw_ipsec_t *this)
{
	enumerator_t *enumerator;
	espgw_json_writer_t w;
	espgw_json_t *resp;
	array_t *order;
	sa_entry_t *sa, *in;
	const char *req;
	char *error;
	size_t len;
	bool ok;
	uint64_t resumed = 0;
	int readded = 0, lost = 0;

	this->fd = espgw_socket_connect(this->path);
	if (this->fd < 0)
	{
		if (!this->unreachable)
		{
			DBG1(DBG_KNL, "kernel-espgw: espgw is not reachable at %s: %s",
				 this->path, strerror(errno));
			this->unreachable = TRUE;
		}
		return FALSE;
	}

	enumerator = this->sas->create_enumerator(this->sas);
	while (enumerator->enumerate(enumerator, &sa))
	{
		sa->refused = FALSE;
	}
	enumerator->destroy(enumerator);

	while (TRUE)
	{
		order = array_create(0, 0);
		espgw_json_writer_init(&w);
		espgw_json_object_begin(&w, NULL);
		espgw_json_string(&w, "cmd", "apply");
		espgw_json_array_begin(&w, "ops");
		espgw_json_object_begin(&w, NULL);
		espgw_json_string(&w, "op", "sa-flush");
		espgw_json_string(&w, "origin", "ike");
		espgw_json_object_end(&w);
		enumerator = this->sas->create_enumerator(this->sas);
		while (enumerator->enumerate(enumerator, &sa))
		{
			if (!sa->refused)
			{
				write_sa_add(&w, sa, "op");
				array_insert(order, ARRAY_TAIL, sa);
			}
		}
		enumerator->destroy(enumerator);
		espgw_json_array_end(&w);
		espgw_json_object_end(&w);

		resp = NULL;
		req = espgw_json_writer_finish(&w, &len);
		if (!req || exchange(this, req, len, &resp) != EXCHANGE_OK)
		{
			espgw_json_writer_wipe(&w);
			array_destroy(order);
			close_request(this);
			return FALSE;
		}
		espgw_json_writer_wipe(&w);
		if (espgw_json_get_bool(resp, "ok", &ok) && ok)
		{
			readded = array_count(order);
			if (!espgw_json_get_uint(resp, "resumed", &resumed))
			{
				resumed = 0;
			}
			espgw_json_free(resp);
			array_destroy(order);
			break;
		}
		error = espgw_json_get_string(resp, "error");
		sa = refused_sa(error, order);
		espgw_json_free(resp);
		array_destroy(order);
		if (sa)
		{	/* e.g. its tunnel is gone from espgw's config: charon deletes it */
			DBG1(DBG_KNL, "kernel-espgw: espgw refused %s SA 0x%08x again: %s",
				 sa->inbound ? "inbound" : "outbound", ntohl(sa->spi), error);
			free(error);
			sa->refused = TRUE;
			queue_expire(this, sa, TRUE);
			lost++;
			continue;
		}
		/* nothing changed in espgw; charon's rekeys below install new SAs */
		DBG1(DBG_KNL, "kernel-espgw: espgw refused the flush and re-add of "
			 "IKE SAs: %s", error ? error : "(no error message)");
		free(error);
		break;
	}

	this->unreachable = FALSE;
	if (readded && resumed == (uint64_t)readded && !lost)
	{
		DBG1(DBG_KNL, "kernel-espgw: connected to espgw at %s: flushed its "
			 "IKE SAs and installed %d SA(s) again, each resuming its sequence "
			 "numbers: no rekey needed", this->path, readded);
		return TRUE;
	}

	/* one rekey per CHILD_SA: ask through its inbound SA, or through its
	 * outbound SA where there is no inbound one with the same reqid */
	enumerator = this->sas->create_enumerator(this->sas);
	while (enumerator->enumerate(enumerator, &sa))
	{
		enumerator_t *inner;
		bool paired = FALSE;

		if (!sa->inbound)
		{
			inner = this->sas->create_enumerator(this->sas);
			while (inner->enumerate(inner, &in))
			{
				if (in->inbound && in->reqid == sa->reqid &&
					in->if_id == sa->if_id)
				{
					paired = TRUE;
					break;
				}
			}
			inner->destroy(inner);
		}
		if (!sa->refused && (sa->inbound || !paired))
		{
			queue_expire(this, sa, FALSE);
		}
	}
	enumerator->destroy(enumerator);

	if (readded || lost)
	{
		DBG1(DBG_KNL, "kernel-espgw: connected to espgw at %s: flushed its "
			 "IKE SAs, installed %d SA(s) again (%d resuming their sequence "
			 "numbers) and asked charon to rekey them; %d refused, to be "
			 "deleted", this->path, readded, (int)resumed, lost);
	}
	else
	{
		DBG1(DBG_KNL, "kernel-espgw: connected to espgw at %s, flushed its "
			 "IKE SAs", this->path);
	}
	return TRUE;
}
