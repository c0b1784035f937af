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
 * charon's policies. espgw routes by its tunnels' CIDRs and installs no
 * policies: the plugin only counts references per selector (a rekey adds the
 * same selectors with the new SA and deletes them with the old one later) and
 * keeps the reqids that an acquire names.
 */

#include "kernel_espgw_private.h"

void policy_entry_destroy(policy_entry_t *entry)
{
	entry->src_ts->destroy(entry->src_ts);
	entry->dst_ts->destroy(entry->dst_ts);
	array_destroy(entry->spis);
	free(entry);
}

static policy_entry_t *find_policy(private_kernel_espgw_ipsec_t *this,
								   kernel_ipsec_policy_id_t *id)
{
	enumerator_t *enumerator;
	policy_entry_t *entry, *found = NULL;

	enumerator = this->policies->create_enumerator(this->policies);
	while (enumerator->enumerate(enumerator, &entry))
	{
		if (entry->dir == id->dir && entry->if_id == id->if_id &&
			entry->mark.value == id->mark.value &&
			entry->mark.mask == id->mark.mask &&
			entry->src_ts->equals(entry->src_ts, id->src_ts) &&
			entry->dst_ts->equals(entry->dst_ts, id->dst_ts))
		{
			found = entry;
			break;
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

METHOD(kernel_ipsec_t, add_policy, status_t,
	private_kernel_espgw_ipsec_t *this, kernel_ipsec_policy_id_t *id,
	kernel_ipsec_manage_policy_t *data)
{
	policy_entry_t *policy;
	uint32_t spi = data->sa ? data->sa->esp.spi : 0;

	this->mutex->lock(this->mutex);
	policy = find_policy(this, id);
	if (!policy)
	{
		INIT(policy,
			.dir = id->dir,
			.src_ts = id->src_ts->clone(id->src_ts),
			.dst_ts = id->dst_ts->clone(id->dst_ts),
			.if_id = id->if_id,
			.mark = id->mark,
			.spis = array_create(sizeof(uint32_t), 0),
		);
		if (data->sa)
		{
			policy->reqid = data->sa->reqid;
		}
		this->policies->insert_last(this->policies, policy);
		if (data->type != POLICY_IPSEC)
		{
			DBG1(DBG_KNL, "kernel-espgw: %s policy %R === %R %N is not "
				 "enforced: espgw routes by its tunnels' CIDRs",
				 data->type == POLICY_PASS ? "pass" : "drop", id->src_ts,
				 id->dst_ts, policy_dir_names, id->dir);
		}
	}
	if (!policy->reqid && data->sa)
	{
		policy->reqid = data->sa->reqid;
	}
	policy->refs++;
	array_insert(policy->spis, ARRAY_TAIL, &spi);
	DBG2(DBG_KNL, "kernel-espgw: policy %R === %R %N (if_id 0x%08x, SA "
		 "0x%08x): %u reference(s)", id->src_ts, id->dst_ts, policy_dir_names,
		 id->dir, id->if_id, ntohl(spi), policy->refs);
	this->mutex->unlock(this->mutex);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, query_policy, status_t,
	private_kernel_espgw_ipsec_t *this, kernel_ipsec_policy_id_t *id,
	kernel_ipsec_query_policy_t *data, time_t *use_time)
{
	espgw_json_writer_t w;
	espgw_json_t *resp = NULL;
	status_t status;
	uint64_t last;

	this->mutex->lock(this->mutex);
	if (!id->if_id || !find_policy(this, id))
	{
		this->mutex->unlock(this->mutex);
		return NOT_FOUND;
	}
	espgw_json_writer_init(&w);
	espgw_json_object_begin(&w, NULL);
	espgw_json_string(&w, "cmd", "if-last-use");
	espgw_json_uint(&w, "if_id", id->if_id);
	espgw_json_string(&w, "direction", id->dir == POLICY_OUT ? "out" : "in");
	espgw_json_object_end(&w);
	status = request(this, &w, &resp, NULL);
	espgw_json_writer_wipe(&w);
	unlock(this);
	if (status == SUCCESS && answer_ok_level(resp, "if-last-use", 2))
	{
		*use_time = 0;
		if (espgw_json_get_uint(resp, "last_use_s", &last))
		{
			time_t now = time_monotonic(NULL);

			*use_time = (uint64_t)now > last ? now - (time_t)last : 1;
		}
	}
	else if (status == SUCCESS)
	{
		status = FAILED;
	}
	espgw_json_free(resp);
	return status;
}

METHOD(kernel_ipsec_t, del_policy, status_t,
	private_kernel_espgw_ipsec_t *this, kernel_ipsec_policy_id_t *id,
	kernel_ipsec_manage_policy_t *data)
{
	policy_entry_t *policy;
	uint32_t spi = data->sa ? data->sa->esp.spi : 0, held;
	int i;

	this->mutex->lock(this->mutex);
	policy = find_policy(this, id);
	if (!policy)
	{
		this->mutex->unlock(this->mutex);
		DBG2(DBG_KNL, "kernel-espgw: no policy %R === %R %N to delete",
			 id->src_ts, id->dst_ts, policy_dir_names, id->dir);
		return NOT_FOUND;
	}
	/* drop the reference of this SA, or any if charon names none */
	for (i = 0; i < array_count(policy->spis); i++)
	{
		array_get(policy->spis, i, &held);
		if (held == spi || !spi)
		{
			break;
		}
	}
	array_remove(policy->spis, i < array_count(policy->spis) ? i : ARRAY_TAIL,
				 NULL);
	policy->refs--;
	DBG2(DBG_KNL, "kernel-espgw: policy %R === %R %N: %u reference(s) left",
		 id->src_ts, id->dst_ts, policy_dir_names, id->dir, policy->refs);
	if (!policy->refs)
	{
		this->policies->remove(this->policies, policy, NULL);
		policy_entry_destroy(policy);
	}
	this->mutex->unlock(this->mutex);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, flush_policies, status_t,
	private_kernel_espgw_ipsec_t *this)
{
	this->mutex->lock(this->mutex);
	this->policies->destroy_function(this->policies,
									 (void*)policy_entry_destroy);
	this->policies = linked_list_create();
	this->mutex->unlock(this->mutex);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, bypass_socket, bool,
	private_kernel_espgw_ipsec_t *this, int fd, int family)
{
	/* IKE leaves through espgw's exception path, which it never encrypts */
	return TRUE;
}

METHOD(kernel_ipsec_t, enable_udp_decap, bool,
	private_kernel_espgw_ipsec_t *this, int fd, int family, uint16_t port)
{
	/* espgw takes ESP-in-UDP off the port before the kernel sees it; IKE
	 * with the non-ESP marker reaches charon's socket as it is */
	return TRUE;
}

/**
 * The reqid of the outbound policy of tunnel if_id, preferring one whose
 * selectors cover the packet (src, dst may be NULL); 0 if none (mutex held).
 */
uint32_t acquire_reqid(private_kernel_espgw_ipsec_t *this,
					   uint32_t if_id, host_t *src, host_t *dst)
{
	enumerator_t *enumerator;
	policy_entry_t *entry;
	uint32_t reqid = 0;

	enumerator = this->policies->create_enumerator(this->policies);
	while (enumerator->enumerate(enumerator, &entry))
	{
		if (entry->dir != POLICY_OUT || entry->if_id != if_id ||
			!entry->reqid)
		{
			continue;
		}
		if (src && dst && entry->src_ts->includes(entry->src_ts, src) &&
			entry->dst_ts->includes(entry->dst_ts, dst))
		{
			reqid = entry->reqid;
			break;
		}
		if (!reqid)
		{
			reqid = entry->reqid;
		}
	}
	enumerator->destroy(enumerator);
	return reqid;
}

void kernel_espgw_policy_methods(private_kernel_espgw_ipsec_t *this)
{
	this->public.interface.add_policy = _add_policy;
	this->public.interface.query_policy = _query_policy;
	this->public.interface.del_policy = _del_policy;
	this->public.interface.flush_policies = _flush_policies;
	this->public.interface.bypass_socket = _bypass_socket;
	this->public.interface.enable_udp_decap = _enable_udp_decap;
}
