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
 * The SAs charon installs in espgw: kept with all it takes to install them
 * again (keys included, in charon's memory only), and the requests that add,
 * update, query and delete them (docs/ike-bridge.md's table).
 */

#include "kernel_espgw_private.h"

static void free_string(void *str, int idx, void *user)
{
	free(str);
}

void sa_entry_destroy(sa_entry_t *entry)
{
	chunk_clear(&entry->enc_key);
	chunk_clear(&entry->int_key);
	DESTROY_IF(entry->src);
	DESTROY_IF(entry->dst);
	array_destroy_function(entry->src_ts, free_string, NULL);
	array_destroy_function(entry->dst_ts, free_string, NULL);
	free(entry);
}

/**
 * An address without port, as espgw reads it.
 */
static void address_string(host_t *host, char *buf, size_t len)
{
	chunk_t addr = host->get_address(host);

	if (!inet_ntop(host->get_family(host), addr.ptr, buf, len))
	{
		snprintf(buf, len, "?");
	}
}

/**
 * Traffic selectors as the prefixes that cover them.
 */
static array_t *ts_prefixes(linked_list_t *list)
{
	enumerator_t *enumerator;
	traffic_selector_t *ts;
	array_t *out = array_create(0, 0);
	host_t *net;
	uint8_t mask;
	char addr[INET6_ADDRSTRLEN], prefix[INET6_ADDRSTRLEN + 8];

	if (!list)
	{
		return out;
	}
	enumerator = list->create_enumerator(list);
	while (enumerator->enumerate(enumerator, &ts))
	{
		ts->to_subnet(ts, &net, &mask);
		address_string(net, addr, sizeof(addr));
		net->destroy(net);
		snprintf(prefix, sizeof(prefix), "%s/%u", addr, mask);
		array_insert(out, ARRAY_TAIL, strdup(prefix));
	}
	enumerator->destroy(enumerator);
	return out;
}

/**
 * espgw's keyword for charon's transforms and key lengths, or NULL.
 */
static const char *algorithm_keyword(uint16_t enc_alg, size_t enc_len,
									 uint16_t int_alg)
{
	if (enc_alg == ENCR_AES_GCM_ICV16)
	{
		if (int_alg != AUTH_UNDEFINED && int_alg != AUTH_NONE)
		{
			return NULL;
		}
		/* charon appends the 4-byte salt to the key (RFC 4106 8.1) */
		switch (enc_len)
		{
			case 16 + 4:
				return "aes128gcm16";
			case 32 + 4:
				return "aes256gcm16";
			default:
				return NULL;
		}
	}
	if (enc_alg == ENCR_AES_CBC && (enc_len == 16 || enc_len == 32))
	{
		bool aes128 = enc_len == 16;

		switch (int_alg)
		{
			case AUTH_HMAC_SHA1_96:
				return aes128 ? "aes128-sha1" : "aes256-sha1";
			case AUTH_HMAC_SHA2_256_128:
				return aes128 ? "aes128-sha256" : "aes256-sha256";
			case AUTH_HMAC_SHA2_384_192:
				return aes128 ? "aes128-sha384" : "aes256-sha384";
			case AUTH_HMAC_SHA2_512_256:
				return aes128 ? "aes128-sha512" : "aes256-sha512";
			default:
				return NULL;
		}
	}
	return NULL;
}

/**
 * The UDP port of an encapsulated SA's end (charon gives the IKE port).
 */
static uint16_t natt_port(host_t *host)
{
	uint16_t port = host->get_port(host);

	return port ? port : IKEV2_NATT_PORT;
}

/**
 * The outer addresses of an SA going from src to dst as espgw takes them: its
 * local and remote end, and their UDP ports where encapsulated.
 */
static void write_ends(espgw_json_writer_t *w, bool inbound, host_t *src,
					   host_t *dst, bool encap)
{
	char local[INET6_ADDRSTRLEN], remote[INET6_ADDRSTRLEN];
	host_t *me = inbound ? dst : src;
	host_t *other = inbound ? src : dst;

	address_string(me, local, sizeof(local));
	address_string(other, remote, sizeof(remote));
	espgw_json_string(w, "local", local);
	espgw_json_string(w, "remote", remote);
	espgw_json_bool(w, "nat_t", encap);
	if (encap)
	{
		espgw_json_uint(w, "local_port", natt_port(me));
		espgw_json_uint(w, "remote_port", natt_port(other));
	}
}

/**
 * Prefixes (ts_prefixes()) as a JSON array of strings.
 */
static void write_prefixes(espgw_json_writer_t *w, const char *name,
						   array_t *prefixes)
{
	enumerator_t *enumerator;
	char *prefix;

	espgw_json_array_begin(w, name);
	enumerator = array_create_enumerator(prefixes);
	while (enumerator->enumerate(enumerator, &prefix))
	{
		espgw_json_string(w, NULL, prefix);
	}
	enumerator->destroy(enumerator);
	espgw_json_array_end(w);
}

/**
 * The sa-add request for an SA (verb "cmd"), or the same as an op of an apply
 * transaction (verb "op"). It holds keys: wipe the writer after use.
 */
void write_sa_add(espgw_json_writer_t *w, sa_entry_t *sa,
				  const char *verb)
{
	espgw_json_object_begin(w, NULL);
	espgw_json_string(w, verb, "sa-add");
	espgw_json_uint(w, "if_id", sa->if_id);
	espgw_json_string(w, "direction", sa->inbound ? "in" : "out");
	espgw_json_object_begin(w, "sa");
	espgw_json_uint(w, "spi", ntohl(sa->spi));
	espgw_json_string(w, "algorithm", sa->algorithm);
	espgw_json_hex(w, "key", sa->enc_key.ptr, sa->enc_key.len);
	if (sa->int_key.len)
	{
		espgw_json_hex(w, "auth_key", sa->int_key.ptr, sa->int_key.len);
	}
	espgw_json_object_end(w);
	espgw_json_object_begin(w, "ike");
	write_ends(w, sa->inbound, sa->src, sa->dst, sa->encap);
	espgw_json_bool(w, "esn", sa->esn);
	espgw_json_uint(w, "replay_window", sa->replay_window);
	espgw_json_uint(w, "soft_bytes", sa->soft_bytes);
	espgw_json_uint(w, "hard_bytes", sa->hard_bytes);
	espgw_json_uint(w, "soft_packets", sa->soft_packets);
	espgw_json_uint(w, "hard_packets", sa->hard_packets);
	espgw_json_bool(w, "copy_df", sa->copy_df);
	espgw_json_bool(w, "copy_ecn", sa->copy_ecn);
	espgw_json_bool(w, "copy_dscp", sa->copy_dscp);
	espgw_json_uint(w, "reqid", sa->reqid);
	write_prefixes(w, "src_ts", sa->src_ts);
	write_prefixes(w, "dst_ts", sa->dst_ts);
	espgw_json_object_end(w);
	espgw_json_object_end(w);
}

/**
 * An SA as charon names it: SPI and outer destination.
 */
static sa_entry_t *find_sa(private_kernel_espgw_ipsec_t *this, uint32_t spi,
						   host_t *dst)
{
	enumerator_t *enumerator;
	sa_entry_t *entry, *found = NULL;

	enumerator = this->sas->create_enumerator(this->sas);
	while (enumerator->enumerate(enumerator, &entry))
	{
		if (entry->spi == spi && dst && entry->dst->ip_equals(entry->dst, dst))
		{
			found = entry;
			break;
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

/**
 * Locks the mutex and finds the SA charon names. Where there is none (or,
 * unless refused_too, espgw refused it) unlocks again and returns NULL.
 */
static sa_entry_t *lock_sa(private_kernel_espgw_ipsec_t *this,
						   kernel_ipsec_sa_id_t *id, bool refused_too)
{
	sa_entry_t *sa;

	this->mutex->lock(this->mutex);
	sa = find_sa(this, id->spi, id->dst);
	if (!sa || (sa->refused && !refused_too))
	{
		this->mutex->unlock(this->mutex);
		return NULL;
	}
	return sa;
}

/**
 * An SA as espgw names it: direction and SPI (network order).
 */
sa_entry_t *find_sa_dir(private_kernel_espgw_ipsec_t *this,
						bool inbound, uint32_t spi)
{
	enumerator_t *enumerator;
	sa_entry_t *entry, *found = NULL;

	enumerator = this->sas->create_enumerator(this->sas);
	while (enumerator->enumerate(enumerator, &entry))
	{
		if (entry->spi == spi && entry->inbound == inbound)
		{
			found = entry;
			break;
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

/**
 * A request about one installed SA: {"cmd": CMD, "direction", "spi"}. The
 * SPI goes as espgw prints it (spi, 16 bytes) for log lines.
 */
static void write_sa_request(espgw_json_writer_t *w, const char *cmd,
							 sa_entry_t *sa, char spi[16])
{
	snprintf(spi, 16, "0x%08x", ntohl(sa->spi));
	espgw_json_writer_init(w);
	espgw_json_object_begin(w, NULL);
	espgw_json_string(w, "cmd", cmd);
	espgw_json_string(w, "direction", sa->inbound ? "in" : "out");
	espgw_json_string(w, "spi", spi);
}

/**
 * Sends the request about one installed SA that has nothing more in it than
 * write_sa_request() writes (mutex held); spi as there.
 */
static status_t sa_request(private_kernel_espgw_ipsec_t *this, const char *cmd,
						   sa_entry_t *sa, char spi[16], espgw_json_t **resp,
						   bool *resynced)
{
	espgw_json_writer_t w;
	status_t status;

	write_sa_request(&w, cmd, sa, spi);
	espgw_json_object_end(&w);
	status = request(this, &w, resp, resynced);
	espgw_json_writer_wipe(&w);
	return status;
}

METHOD(kernel_ipsec_t, get_spi, status_t,
	private_kernel_espgw_ipsec_t *this, host_t *src, host_t *dst,
	uint8_t protocol, uint32_t *spi)
{
	espgw_json_writer_t w;
	espgw_json_t *resp = NULL;
	status_t status;
	char *text, *end;
	unsigned long value;

	if (protocol != IPPROTO_ESP)
	{
		DBG1(DBG_KNL, "kernel-espgw: espgw carries ESP only, not protocol %u",
			 protocol);
		return NOT_SUPPORTED;
	}
	espgw_json_writer_init(&w);
	espgw_json_object_begin(&w, NULL);
	espgw_json_string(&w, "cmd", "spi-alloc");
	espgw_json_object_end(&w);

	this->mutex->lock(this->mutex);
	status = request(this, &w, &resp, NULL);
	unlock(this);
	espgw_json_writer_wipe(&w);
	if (status != SUCCESS)
	{
		return status;
	}
	status = FAILED;
	if (answer_ok(resp, "spi-alloc"))
	{
		text = espgw_json_get_string(resp, "spi");
		if (text)
		{
			errno = 0;
			value = strtoul(text, &end, 16);
			if (errno == 0 && end != text && *end == '\0' &&
				value >= 0x100 && value <= UINT32_MAX)
			{
				*spi = htonl((uint32_t)value);
				status = SUCCESS;
				DBG2(DBG_KNL, "kernel-espgw: got SPI 0x%08lx from espgw", value);
			}
			free(text);
		}
		if (status != SUCCESS)
		{
			DBG1(DBG_KNL, "kernel-espgw: spi-alloc answered without an SPI");
		}
	}
	espgw_json_free(resp);
	return status;
}

METHOD(kernel_ipsec_t, get_cpi, status_t,
	private_kernel_espgw_ipsec_t *this, host_t *src, host_t *dst,
	uint16_t *cpi)
{
	this->mutex->lock(this->mutex);
	if (!this->cpi_logged)
	{
		DBG1(DBG_KNL, "kernel-espgw: IPComp is not supported by espgw");
		this->cpi_logged = TRUE;
	}
	this->mutex->unlock(this->mutex);
	return NOT_SUPPORTED;
}

static bool copy_dscp(dscp_copy_t mode, bool inbound)
{
	switch (mode)
	{
		case DSCP_COPY_YES:
			return TRUE;
		case DSCP_COPY_OUT_ONLY:
			return !inbound;
		case DSCP_COPY_IN_ONLY:
			return inbound;
		case DSCP_COPY_NO:
		default:
			return FALSE;
	}
}

METHOD(kernel_ipsec_t, add_sa, status_t,
	private_kernel_espgw_ipsec_t *this, kernel_ipsec_sa_id_t *id,
	kernel_ipsec_add_sa_t *data)
{
	espgw_json_writer_t w;
	espgw_json_t *resp = NULL;
	sa_entry_t *sa;
	const char *algorithm;
	char what[64];
	status_t status;
	lifetime_cfg_t none = {};
	lifetime_cfg_t *life = data->lifetime ? data->lifetime : &none;

	if (id->proto != IPPROTO_ESP)
	{
		DBG1(DBG_KNL, "kernel-espgw: refusing SA 0x%08x: espgw carries ESP "
			 "only, not protocol %u", ntohl(id->spi), id->proto);
		return NOT_SUPPORTED;
	}
	if (data->mode != MODE_TUNNEL)
	{
		DBG1(DBG_KNL, "kernel-espgw: refusing SA 0x%08x: espgw supports "
			 "tunnel mode only, not %N", ntohl(id->spi), ipsec_mode_names,
			 data->mode);
		return NOT_SUPPORTED;
	}
	if (data->ipcomp != IPCOMP_NONE)
	{
		DBG1(DBG_KNL, "kernel-espgw: refusing SA 0x%08x: IPComp is not "
			 "supported by espgw", ntohl(id->spi));
		return NOT_SUPPORTED;
	}
	if (!id->if_id)
	{
		DBG1(DBG_KNL, "kernel-espgw: refusing SA 0x%08x: no interface ID; "
			 "set if_id_in and if_id_out of the CHILD_SA to espgw's "
			 "tunnel_if_id() of the tunnel", ntohl(id->spi));
		return INVALID_ARG;
	}
	algorithm = algorithm_keyword(data->enc_alg, data->enc_key.len,
								  data->int_alg);
	if (!algorithm)
	{
		DBG1(DBG_KNL, "kernel-espgw: refusing SA 0x%08x: espgw has no "
			 "%N with a %zu-byte key and %N (it carries AES-GCM-16 and "
			 "AES-CBC with HMAC-SHA1/SHA2, 128 or 256 bits)", ntohl(id->spi),
			 encryption_algorithm_names, data->enc_alg, data->enc_key.len,
			 integrity_algorithm_names, data->int_alg);
		return NOT_SUPPORTED;
	}

	INIT(sa,
		.spi = id->spi,
		.inbound = data->inbound,
		.if_id = id->if_id,
		.reqid = data->reqid,
		.algorithm = algorithm,
		.enc_key = chunk_clone(data->enc_key),
		.int_key = chunk_clone(data->int_key),
		.src = id->src->clone(id->src),
		.dst = id->dst->clone(id->dst),
		.encap = data->encap,
		.esn = data->esn,
		.replay_window = data->replay_window,
		.soft_bytes = life->bytes.rekey,
		.hard_bytes = life->bytes.life,
		.soft_packets = life->packets.rekey,
		.hard_packets = life->packets.life,
		.copy_df = data->copy_df,
		.copy_ecn = data->copy_ecn,
		.copy_dscp = copy_dscp(data->copy_dscp, data->inbound),
		.src_ts = ts_prefixes(data->src_ts),
		.dst_ts = ts_prefixes(data->dst_ts),
	);
	snprintf(what, sizeof(what), "%s SA 0x%08x",
			 sa->inbound ? "inbound" : "outbound", ntohl(sa->spi));

	espgw_json_writer_init(&w);
	write_sa_add(&w, sa, "cmd");

	this->mutex->lock(this->mutex);
	status = request(this, &w, &resp, NULL);
	espgw_json_writer_wipe(&w);
	if (status == SUCCESS && !answer_ok(resp, what))
	{
		status = FAILED;
	}
	espgw_json_free(resp);
	if (status == SUCCESS)
	{
		sa->serial = ++this->serial;
		this->sas->insert_last(this->sas, sa);
		schedule_lifetime(this, sa, life->time.rekey, FALSE);
		schedule_lifetime(this, sa, life->time.life, TRUE);
		DBG2(DBG_KNL, "kernel-espgw: added %s (%s, if_id 0x%08x, "
			 "reqid %u) %H === %H", what, algorithm, sa->if_id, sa->reqid,
			 sa->src, sa->dst);
	}
	unlock(this);
	if (status != SUCCESS)
	{
		sa_entry_destroy(sa);
	}
	return status;
}

METHOD(kernel_ipsec_t, update_sa, status_t,
	private_kernel_espgw_ipsec_t *this, kernel_ipsec_sa_id_t *id,
	kernel_ipsec_update_sa_t *data)
{
	espgw_json_writer_t w;
	espgw_json_t *resp = NULL;
	char spi[16], what[64];
	sa_entry_t *sa;
	status_t status;
	char *error;

	sa = lock_sa(this, id, FALSE);
	if (!sa)
	{
		DBG1(DBG_KNL, "kernel-espgw: no SA 0x%08x/%H to update",
			 ntohl(id->spi), id->dst);
		return NOT_FOUND;
	}
	if (data->new_reqid)
	{
		sa->reqid = data->new_reqid;
	}
	if (sa->src->equals(sa->src, data->new_src) &&
		sa->dst->equals(sa->dst, data->new_dst) &&
		sa->encap == data->new_encap)
	{	/* nothing espgw needs to know */
		this->mutex->unlock(this->mutex);
		return SUCCESS;
	}
	write_sa_request(&w, "sa-update", sa, spi);
	snprintf(what, sizeof(what), "the update of %s SA %s",
			 sa->inbound ? "inbound" : "outbound", spi);
	write_ends(&w, sa->inbound, data->new_src, data->new_dst,
			   data->new_encap);
	espgw_json_object_end(&w);

	status = request(this, &w, &resp, NULL);
	espgw_json_writer_wipe(&w);
	if (status == SUCCESS)
	{
		bool ok = FALSE;

		if (espgw_json_get_bool(resp, "ok", &ok) && ok)
		{
			sa->src->destroy(sa->src);
			sa->dst->destroy(sa->dst);
			sa->src = data->new_src->clone(data->new_src);
			sa->dst = data->new_dst->clone(data->new_dst);
			sa->encap = data->new_encap;
			DBG1(DBG_KNL, "kernel-espgw: SA %s now %H === %H%s", spi,
				 sa->src, sa->dst, sa->encap ? " (UDP-encapsulated)" : "");
		}
		else
		{
			error = espgw_json_get_string(resp, "error");
			if (error && strpfx(error, "unknown cmd"))
			{	/* charon rekeys the CHILD_SA instead */
				if (!this->update_logged)
				{
					DBG1(DBG_KNL, "kernel-espgw: espgw cannot change an SA's "
						 "addresses (no sa-update); the CHILD_SA is rekeyed "
						 "instead");
					this->update_logged = TRUE;
				}
				status = NOT_SUPPORTED;
			}
			else
			{
				answer_ok(resp, what);
				status = FAILED;
			}
			free(error);
		}
	}
	espgw_json_free(resp);
	unlock(this);
	return status;
}

METHOD(kernel_ipsec_t, query_sa, status_t,
	private_kernel_espgw_ipsec_t *this, kernel_ipsec_sa_id_t *id,
	kernel_ipsec_query_sa_t *data, uint64_t *bytes, uint64_t *packets,
	time_t *time)
{
	espgw_json_t *resp = NULL;
	char spi[16], what[64];
	uint64_t value;
	sa_entry_t *sa;
	status_t status;
	bool resynced = FALSE, gone;

	sa = lock_sa(this, id, FALSE);
	if (!sa)
	{	/* a refused SA is not in espgw; charon is deleting it */
		return NOT_FOUND;
	}
	status = sa_request(this, "sa-query", sa, spi, &resp, &resynced);
	snprintf(what, sizeof(what), "sa-query of %s", spi);
	/* an SA espgw refused when this request resynced it is not there */
	gone = resynced && sa->refused;
	unlock(this);
	if (status == SUCCESS && !gone && answer_ok_level(resp, what, 2))
	{
		if (bytes)
		{
			*bytes = espgw_json_get_uint(resp, "bytes", &value) ? value : 0;
		}
		if (packets)
		{
			*packets = espgw_json_get_uint(resp, "packets", &value) ? value : 0;
		}
		if (time)
		{
			*time = 0;
			if (espgw_json_get_uint(resp, "last_use_s", &value))
			{
				time_t now = time_monotonic(NULL);

				*time = (uint64_t)now > value ? now - (time_t)value : 1;
			}
		}
	}
	else if (status == SUCCESS)
	{
		status = gone ? NOT_FOUND : FAILED;
	}
	espgw_json_free(resp);
	return status;
}

METHOD(kernel_ipsec_t, del_sa, status_t,
	private_kernel_espgw_ipsec_t *this, kernel_ipsec_sa_id_t *id,
	kernel_ipsec_del_sa_t *data)
{
	espgw_json_t *resp = NULL;
	char spi[16], what[64];
	sa_entry_t *sa;
	status_t status;
	bool resynced = FALSE;

	sa = lock_sa(this, id, TRUE);
	if (!sa)
	{
		DBG2(DBG_KNL, "kernel-espgw: no SA 0x%08x/%H to delete",
			 ntohl(id->spi), id->dst);
		return NOT_FOUND;
	}
	/* forgotten first: a resync during this request does not add it again */
	this->sas->remove(this->sas, sa, NULL);
	if (sa->refused)
	{	/* espgw refused it on re-add: it is not there */
		DBG2(DBG_KNL, "kernel-espgw: forgot %s SA 0x%08x (not in espgw)",
			 sa->inbound ? "inbound" : "outbound", ntohl(sa->spi));
		this->mutex->unlock(this->mutex);
		sa_entry_destroy(sa);
		return SUCCESS;
	}
	status = sa_request(this, "sa-del", sa, spi, &resp, &resynced);
	snprintf(what, sizeof(what), "sa-del of %s SA %s",
			 sa->inbound ? "inbound" : "outbound", spi);
	if (status == SUCCESS)
	{
		bool ok = FALSE;
		char *error;

		if (!(espgw_json_get_bool(resp, "ok", &ok) && ok) && !resynced)
		{
			error = espgw_json_get_string(resp, "error");
			if (error && strstr(error, "does not exist"))
			{	/* gone already (espgw restarted, an operator removed it):
				 * what charon asked for */
				DBG1(DBG_KNL, "kernel-espgw: %s SA %s was not in espgw any "
					 "more", sa->inbound ? "inbound" : "outbound", spi);
			}
			else
			{
				answer_ok(resp, what);
				status = FAILED;
			}
			free(error);
		}
	}
	espgw_json_free(resp);
	if (status == SUCCESS)
	{
		DBG2(DBG_KNL, "kernel-espgw: deleted %s SA %s",
			 sa->inbound ? "inbound" : "outbound", spi);
	}
	unlock(this);
	sa_entry_destroy(sa);
	return status;
}

METHOD(kernel_ipsec_t, flush_sas, status_t,
	private_kernel_espgw_ipsec_t *this)
{
	espgw_json_writer_t w;
	status_t status;

	espgw_json_writer_init(&w);
	espgw_json_object_begin(&w, NULL);
	espgw_json_string(&w, "cmd", "sa-flush");
	espgw_json_string(&w, "origin", "ike");
	espgw_json_object_end(&w);

	this->mutex->lock(this->mutex);
	this->sas->destroy_function(this->sas, (void*)sa_entry_destroy);
	this->sas = linked_list_create();
	status = simple_request(this, &w, "sa-flush");
	unlock(this);
	espgw_json_writer_wipe(&w);
	return status;
}

void kernel_espgw_sa_methods(private_kernel_espgw_ipsec_t *this)
{
	this->public.interface.get_spi = _get_spi;
	this->public.interface.get_cpi = _get_cpi;
	this->public.interface.add_sa = _add_sa;
	this->public.interface.update_sa = _update_sa;
	this->public.interface.query_sa = _query_sa;
	this->public.interface.del_sa = _del_sa;
	this->public.interface.flush_sas = _flush_sas;
}
