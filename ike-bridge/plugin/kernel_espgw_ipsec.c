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
 * charon's kernel_ipsec_t on espgw's control socket; what each call sends is
 * docs/ike-bridge.md's table. Two connections: one for requests (one at a
 * time, under the mutex) and one subscribed to espgw's events (expire,
 * acquire), watched by lib->watcher.
 *
 * espgw forgets every IKE SA when it restarts. The plugin keeps what it
 * installed (keys included, in charon's memory only); whenever it (re)connects
 * it flushes espgw's IKE SAs, installs its own again and raises a soft expire
 * for each CHILD_SA, so that charon rekeys at once (the re-added outbound SAs
 * restart their sequence numbers, which the peer's replay window refuses).
 *
 * Key material never reaches a log line: requests are never logged, only the
 * SPI and the algorithm's name, and espgw's error messages never quote keys.
 */

#include "kernel_espgw_ipsec.h"
#include "espgw_json.h"
#include "espgw_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <daemon.h>
#include <collections/array.h>
#include <collections/linked_list.h>
#include <processing/jobs/callback_job.h>
#include <sa/ikev2/tasks/ike_dpd.h>
#include <threading/mutex.h>

/** espgw's default control socket (docs/control-protocol.md) */
#define DEFAULT_SOCKET "/run/espgw/espgw.sock"

/** how long to wait for an answer */
#define DEFAULT_TIMEOUT_MS 10000

/** between two tries to reach espgw for events */
#define RECONNECT_MS 1000

typedef struct private_kernel_espgw_ipsec_t private_kernel_espgw_ipsec_t;

/**
 * Private variables and functions of the espgw kernel_ipsec_t.
 */
struct private_kernel_espgw_ipsec_t {

	/**
	 * Public part
	 */
	kernel_espgw_ipsec_t public;

	/**
	 * espgw's control socket
	 */
	char *path;

	/**
	 * How long to wait for an answer, in ms
	 */
	int timeout_ms;

	/**
	 * Guards the request connection, the SAs and the policies
	 */
	mutex_t *mutex;

	/**
	 * Request connection, -1 when not connected
	 */
	int fd;

	/**
	 * Bytes read from fd
	 */
	espgw_linebuf_t in;

	/**
	 * Installed SAs, sa_entry_t
	 */
	linked_list_t *sas;

	/**
	 * Policies by selector, policy_entry_t
	 */
	linked_list_t *policies;

	/**
	 * Expires to raise once the mutex is released, expire_t
	 */
	linked_list_t *expires;

	/**
	 * Serial number of the last SA added (lifetime timers name SAs by it)
	 */
	uint64_t serial;

	/**
	 * espgw was reported unreachable, not reported again until reached
	 */
	bool unreachable;

	/**
	 * get_cpi() was refused and said so once
	 */
	bool cpi_logged;

	/**
	 * espgw does not know sa-update: said so once
	 */
	bool update_logged;

	/**
	 * Guards the event connection
	 */
	mutex_t *events_mutex;

	/**
	 * Event connection, -1 when not connected
	 */
	int events_fd;

	/**
	 * Bytes read from events_fd
	 */
	espgw_linebuf_t events_in;

	/**
	 * A reconnect job is scheduled
	 */
	bool events_retry;

	/**
	 * if_ids of acquires that matched no policy, logged once each, uint32_t
	 * (events mutex)
	 */
	array_t *acquire_unknown;

	/**
	 * Being destroyed: schedule nothing more
	 */
	bool destroying;
};

/**
 * An SA installed in espgw, with all it takes to install it again.
 */
typedef struct {
	/** SPI, network order (as charon names it) */
	uint32_t spi;
	/** direction */
	bool inbound;
	/** the tunnel (config::tunnel_if_id) */
	uint32_t if_id;
	/** charon's reqid */
	uint32_t reqid;
	/** espgw's algorithm keyword (static string) */
	const char *algorithm;
	/** encryption key (GCM: key || salt) */
	chunk_t enc_key;
	/** integrity key, empty for AEAD */
	chunk_t int_key;
	/** outer source, with port */
	host_t *src;
	/** outer destination, with port: charon names SAs by SPI and this */
	host_t *dst;
	/** UDP encapsulation */
	bool encap;
	/** extended sequence numbers */
	bool esn;
	/** anti-replay window, packets */
	uint32_t replay_window;
	/** byte and packet lifetimes, 0 = none */
	uint64_t soft_bytes, hard_bytes, soft_packets, hard_packets;
	/** copy DF, ECN, DSCP between inner and outer header */
	bool copy_df, copy_ecn, copy_dscp;
	/** traffic selectors as prefixes, char* */
	array_t *src_ts, *dst_ts;
	/** ties lifetime timers to this SA */
	uint64_t serial;
	/** espgw refused to take it back in the last resync (hard expire sent) */
	bool refused;
} sa_entry_t;

/**
 * A policy, reference-counted per selector: a rekey adds the same selectors
 * with the new SA and deletes them with the old one later.
 */
typedef struct {
	policy_dir_t dir;
	traffic_selector_t *src_ts;
	traffic_selector_t *dst_ts;
	uint32_t if_id;
	mark_t mark;
	/** charon's reqid (of the trap or of the CHILD_SA); what an acquire names */
	uint32_t reqid;
	/** add_policy() calls not yet matched by del_policy() */
	u_int refs;
	/** SPI of the SA each of those calls attached, uint32_t */
	array_t *spis;
} policy_entry_t;

/**
 * An expire to raise with charon->kernel->expire().
 */
typedef struct {
	uint32_t spi;
	host_t *dst;
	bool hard;
} expire_t;

/**
 * A lifetime timer of an SA.
 */
typedef struct {
	private_kernel_espgw_ipsec_t *this;
	uint32_t spi;
	bool inbound;
	uint64_t serial;
	bool hard;
} lifetime_timer_t;

static void free_string(void *str, int idx, void *user)
{
	free(str);
}

static void sa_entry_destroy(sa_entry_t *entry)
{
	chunk_clear(&entry->enc_key);
	chunk_clear(&entry->int_key);
	DESTROY_IF(entry->src);
	DESTROY_IF(entry->dst);
	array_destroy_function(entry->src_ts, free_string, NULL);
	array_destroy_function(entry->dst_ts, free_string, NULL);
	free(entry);
}

static void policy_entry_destroy(policy_entry_t *entry)
{
	entry->src_ts->destroy(entry->src_ts);
	entry->dst_ts->destroy(entry->dst_ts);
	array_destroy(entry->spis);
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
 * The sa-add request for an SA (verb "cmd"), or the same as an op of an apply
 * transaction (verb "op"). It holds keys: wipe the writer after use.
 */
static void write_sa_add(espgw_json_writer_t *w, sa_entry_t *sa,
						 const char *verb)
{
	char local[INET6_ADDRSTRLEN], remote[INET6_ADDRSTRLEN];
	host_t *me = sa->inbound ? sa->dst : sa->src;
	host_t *other = sa->inbound ? sa->src : sa->dst;
	enumerator_t *enumerator;
	char *prefix;

	address_string(me, local, sizeof(local));
	address_string(other, remote, sizeof(remote));

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
	espgw_json_string(w, "local", local);
	espgw_json_string(w, "remote", remote);
	espgw_json_bool(w, "nat_t", sa->encap);
	if (sa->encap)
	{
		espgw_json_uint(w, "local_port", natt_port(me));
		espgw_json_uint(w, "remote_port", natt_port(other));
	}
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
	espgw_json_array_begin(w, "src_ts");
	enumerator = array_create_enumerator(sa->src_ts);
	while (enumerator->enumerate(enumerator, &prefix))
	{
		espgw_json_string(w, NULL, prefix);
	}
	enumerator->destroy(enumerator);
	espgw_json_array_end(w);
	espgw_json_array_begin(w, "dst_ts");
	enumerator = array_create_enumerator(sa->dst_ts);
	while (enumerator->enumerate(enumerator, &prefix))
	{
		espgw_json_string(w, NULL, prefix);
	}
	enumerator->destroy(enumerator);
	espgw_json_array_end(w);
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
 * An SA as espgw names it: direction and SPI (network order).
 */
static sa_entry_t *find_sa_dir(private_kernel_espgw_ipsec_t *this,
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
 * Queues an expire for an SA, raised by unlock() (mutex held).
 */
static void queue_expire(private_kernel_espgw_ipsec_t *this, sa_entry_t *sa,
						 bool hard)
{
	expire_t *expire;

	INIT(expire,
		.spi = sa->spi,
		.dst = sa->dst->clone(sa->dst),
		.hard = hard,
	);
	this->expires->insert_last(this->expires, expire);
}

/**
 * Releases the mutex, then raises the expires queued under it (charon's
 * handlers queue jobs that call back into this interface).
 */
static void unlock(private_kernel_espgw_ipsec_t *this)
{
	linked_list_t *expires = NULL;
	expire_t *expire;

	if (this->expires->get_count(this->expires))
	{
		expires = this->expires;
		this->expires = linked_list_create();
	}
	this->mutex->unlock(this->mutex);
	if (!expires)
	{
		return;
	}
	while (expires->remove_first(expires, (void**)&expire) == SUCCESS)
	{
		DBG1(DBG_KNL, "kernel-espgw: %s expire for SA 0x%08x/%H",
			 expire->hard ? "hard" : "soft", ntohl(expire->spi), expire->dst);
		charon->kernel->expire(charon->kernel, IPPROTO_ESP, expire->spi,
							   expire->dst, expire->hard);
		expire->dst->destroy(expire->dst);
		free(expire);
	}
	expires->destroy(expires);
}

static void close_request(private_kernel_espgw_ipsec_t *this)
{
	if (this->fd >= 0)
	{
		close(this->fd);
	}
	this->fd = -1;
	espgw_linebuf_reset(&this->in);
}

typedef enum {
	EXCHANGE_OK,
	EXCHANGE_IO,
	EXCHANGE_TIMEOUT,
} exchange_t;

/**
 * One request and its answer on the current connection (mutex held).
 */
static exchange_t exchange(private_kernel_espgw_ipsec_t *this,
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
static bool answer_ok_level(espgw_json_t *resp, const char *what, int level)
{
	bool ok = FALSE;
	char *error;

	if (espgw_json_get_bool(resp, "ok", &ok) && ok)
	{
		return TRUE;
	}
	/* espgw never quotes key material in an error (control-protocol.md) */
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

static bool answer_ok(espgw_json_t *resp, const char *what)
{
	return answer_ok_level(resp, what, 1);
}

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
static bool connect_request(private_kernel_espgw_ipsec_t *this)
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

	this->unreachable = FALSE;
	if (readded || lost)
	{
		DBG1(DBG_KNL, "kernel-espgw: connected to espgw at %s: flushed its "
			 "IKE SAs, installed %d SA(s) again and asked charon to rekey "
			 "them; %d refused, to be deleted", this->path, readded, lost);
	}
	else
	{
		DBG1(DBG_KNL, "kernel-espgw: connected to espgw at %s, flushed its "
			 "IKE SAs", this->path);
	}
	return TRUE;
}

/**
 * Sends a request and reads the answer, connecting first if needed (mutex
 * held). A connection that breaks is made again once, which resyncs espgw;
 * resynced says whether that happened during this call. The request is
 * taken from the writer, which the caller wipes.
 */
static status_t request(private_kernel_espgw_ipsec_t *this,
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
static status_t simple_request(private_kernel_espgw_ipsec_t *this,
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

/**
 * Soft or hard time lifetime of an SA reached (XFRM raises these for the
 * kernel; charon schedules none itself).
 */
static job_requeue_t lifetime_reached(lifetime_timer_t *timer)
{
	private_kernel_espgw_ipsec_t *this = timer->this;
	sa_entry_t *sa;

	this->mutex->lock(this->mutex);
	sa = find_sa_dir(this, timer->inbound, timer->spi);
	if (sa && sa->serial == timer->serial)
	{
		queue_expire(this, sa, timer->hard);
	}
	unlock(this);
	return JOB_REQUEUE_NONE;
}

static void schedule_lifetime(private_kernel_espgw_ipsec_t *this,
							  sa_entry_t *sa, uint64_t seconds, bool hard)
{
	lifetime_timer_t *timer;

	if (!seconds)
	{
		return;
	}
	INIT(timer,
		.this = this,
		.spi = sa->spi,
		.inbound = sa->inbound,
		.serial = sa->serial,
		.hard = hard,
	);
	lib->scheduler->schedule_job(lib->scheduler,
			(job_t*)callback_job_create((callback_job_cb_t)lifetime_reached,
										timer, free, NULL),
			seconds > UINT32_MAX ? UINT32_MAX : (uint32_t)seconds);
}

METHOD(kernel_ipsec_t, get_features, kernel_feature_t,
	private_kernel_espgw_ipsec_t *this)
{
	/* Policies only count references here: nothing to reinstall when an
	 * SA's addresses change. No KERNEL_POLICY_SPI: an outbound SA becomes
	 * its tunnel's SA in use as soon as espgw has it, so charon must keep a
	 * responder's new outbound SA back until the rekey is complete. */
	return KERNEL_NO_POLICY_UPDATES;
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
	char local[INET6_ADDRSTRLEN], remote[INET6_ADDRSTRLEN], spi[16], what[64];
	host_t *me, *other;
	sa_entry_t *sa;
	status_t status;
	char *error;

	this->mutex->lock(this->mutex);
	sa = find_sa(this, id->spi, id->dst);
	if (!sa || sa->refused)
	{
		this->mutex->unlock(this->mutex);
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
	me = sa->inbound ? data->new_dst : data->new_src;
	other = sa->inbound ? data->new_src : data->new_dst;
	address_string(me, local, sizeof(local));
	address_string(other, remote, sizeof(remote));
	write_sa_request(&w, "sa-update", sa, spi);
	snprintf(what, sizeof(what), "the update of %s SA %s",
			 sa->inbound ? "inbound" : "outbound", spi);
	espgw_json_string(&w, "local", local);
	espgw_json_string(&w, "remote", remote);
	espgw_json_bool(&w, "nat_t", data->new_encap);
	if (data->new_encap)
	{
		espgw_json_uint(&w, "local_port", natt_port(me));
		espgw_json_uint(&w, "remote_port", natt_port(other));
	}
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
	espgw_json_writer_t w;
	espgw_json_t *resp = NULL;
	char spi[16], what[64];
	uint64_t value;
	sa_entry_t *sa;
	status_t status;
	bool resynced = FALSE, gone;

	this->mutex->lock(this->mutex);
	sa = find_sa(this, id->spi, id->dst);
	if (!sa || sa->refused)
	{	/* a refused SA is not in espgw; charon is deleting it */
		this->mutex->unlock(this->mutex);
		return NOT_FOUND;
	}
	write_sa_request(&w, "sa-query", sa, spi);
	espgw_json_object_end(&w);
	snprintf(what, sizeof(what), "sa-query of %s", spi);

	status = request(this, &w, &resp, &resynced);
	espgw_json_writer_wipe(&w);
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
	espgw_json_writer_t w;
	espgw_json_t *resp = NULL;
	char spi[16], what[64];
	sa_entry_t *sa;
	status_t status;
	bool resynced = FALSE;

	this->mutex->lock(this->mutex);
	sa = find_sa(this, id->spi, id->dst);
	if (!sa)
	{
		this->mutex->unlock(this->mutex);
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
	write_sa_request(&w, "sa-del", sa, spi);
	espgw_json_object_end(&w);
	snprintf(what, sizeof(what), "sa-del of %s SA %s",
			 sa->inbound ? "inbound" : "outbound", spi);

	status = request(this, &w, &resp, &resynced);
	espgw_json_writer_wipe(&w);
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

/* ---- events ---- */

static void schedule_reconnect(private_kernel_espgw_ipsec_t *this, u_int ms);

/**
 * The reqid of the outbound policy of tunnel if_id, preferring one whose
 * selectors cover the packet (src, dst may be NULL); 0 if none (mutex held).
 */
static uint32_t acquire_reqid(private_kernel_espgw_ipsec_t *this,
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

/**
 * An acquire event: traffic into tunnel if_id, which has no SA. Raised as the
 * kernel's acquire of the trap policy charon installed for it (events mutex
 * held).
 */
static void handle_acquire(private_kernel_espgw_ipsec_t *this,
						   espgw_json_t *event)
{
	kernel_acquire_data_t data = {};
	host_t *src = NULL, *dst = NULL;
	char *text;
	uint64_t if_id;
	uint32_t reqid, logged;
	int i;

	if (!espgw_json_get_uint(event, "if_id", &if_id) || !if_id ||
		if_id > UINT32_MAX)
	{
		DBG1(DBG_KNL, "kernel-espgw: ignoring a malformed acquire event");
		return;
	}
	text = espgw_json_get_string(event, "src");
	if (text)
	{
		src = host_create_from_string(text, 0);
		free(text);
	}
	text = espgw_json_get_string(event, "dst");
	if (text)
	{
		dst = host_create_from_string(text, 0);
		free(text);
	}
	this->mutex->lock(this->mutex);
	reqid = acquire_reqid(this, (uint32_t)if_id, src, dst);
	this->mutex->unlock(this->mutex);
	if (!reqid)
	{
		for (i = 0; i < array_count(this->acquire_unknown); i++)
		{
			array_get(this->acquire_unknown, i, &logged);
			if (logged == if_id)
			{
				break;
			}
		}
		if (i == array_count(this->acquire_unknown))
		{
			logged = (uint32_t)if_id;
			array_insert(this->acquire_unknown, ARRAY_TAIL, &logged);
			DBG2(DBG_KNL, "kernel-espgw: acquire for if_id 0x%08x, which has "
				 "no trap policy: ignored (start_action is not trap)", logged);
		}
		goto out;
	}
	if (src && dst && src->get_family(src) == dst->get_family(dst))
	{
		data.src = traffic_selector_create_from_subnet(src->clone(src),
								src->get_family(src) == AF_INET ? 32 : 128,
								0, 0, 65535);
		data.dst = traffic_selector_create_from_subnet(dst->clone(dst),
								dst->get_family(dst) == AF_INET ? 32 : 128,
								0, 0, 65535);
	}
	DBG1(DBG_KNL, "kernel-espgw: espgw: traffic %H === %H in tunnel if_id "
		 "0x%08x without an SA: acquire for reqid %u", src, dst,
		 (uint32_t)if_id, reqid);
	charon->kernel->acquire(charon->kernel, reqid, &data);
	DESTROY_IF(data.src);
	DESTROY_IF(data.dst);

out:
	DESTROY_IF(src);
	DESTROY_IF(dst);
}

/**
 * A liveness check to start: the outbound SA (SPI in network order) whose
 * tunnel espgw hears nothing from.
 */
typedef struct {
	uint32_t spi;
	host_t *dst;
	uint64_t quiet_ms;
} liveness_t;

static void liveness_destroy(liveness_t *l)
{
	l->dst->destroy(l->dst);
	free(l);
}

/**
 * Whether the IKE_SA has an exchange in the air or a DPD waiting: its
 * retransmissions are a liveness check already.
 */
static bool exchange_pending(ike_sa_t *ike_sa)
{
	enumerator_t *enumerator;
	task_t *task;
	bool pending = FALSE;

	enumerator = ike_sa->create_task_enumerator(ike_sa, TASK_QUEUE_ACTIVE);
	pending = enumerator->enumerate(enumerator, &task);
	enumerator->destroy(enumerator);
	if (pending)
	{
		return TRUE;
	}
	enumerator = ike_sa->create_task_enumerator(ike_sa, TASK_QUEUE_QUEUED);
	while (enumerator->enumerate(enumerator, &task))
	{
		if (task->get_type(task) == TASK_IKE_DPD ||
			task->get_type(task) == TASK_IKE_MOBIKE)
		{
			pending = TRUE;
			break;
		}
	}
	enumerator->destroy(enumerator);
	return pending;
}

/**
 * Starts a DPD on the IKE_SA of the CHILD_SA with that outbound SA, as
 * charon's own DPD would after dpd_delay: the peer is dead when it goes
 * unanswered through the retransmissions (charon.retransmit_*, which espgw-up
 * sets from dpd_timeout_s). IKEv2 only: for IKEv1 charon's dpd_timeout
 * decides, and its DPD carries a sequence number of the IKE_SA's own.
 */
static job_requeue_t check_liveness(liveness_t *l)
{
	child_sa_t *child_sa;
	ike_sa_t *ike_sa;
	status_t status = SUCCESS;

	ike_sa = charon->child_sa_manager->checkout(charon->child_sa_manager,
										PROTO_ESP, l->spi, l->dst, &child_sa);
	if (!ike_sa)
	{
		DBG1(DBG_KNL, "kernel-espgw: espgw hears nothing in the tunnel of SA "
			 "0x%08x, which no CHILD_SA has: ignored", ntohl(l->spi));
		return JOB_REQUEUE_NONE;
	}
	if (ike_sa->get_version(ike_sa) != IKEV2 ||
		ike_sa->get_state(ike_sa) != IKE_ESTABLISHED)
	{
		DBG2(DBG_KNL, "kernel-espgw: no liveness check for %s{%u}: not an "
			 "established IKEv2 SA", child_sa->get_name(child_sa),
			 child_sa->get_unique_id(child_sa));
	}
	else if (exchange_pending(ike_sa))
	{
		DBG1(DBG_KNL, "kernel-espgw: espgw has heard nothing in CHILD_SA "
			 "%s{%u} for %llu ms; an exchange with the peer is under way",
			 child_sa->get_name(child_sa), child_sa->get_unique_id(child_sa),
			 (unsigned long long)l->quiet_ms);
	}
	else
	{
		DBG1(DBG_KNL, "kernel-espgw: espgw has heard nothing in CHILD_SA "
			 "%s{%u} for %llu ms while sending: checking the peer (DPD)",
			 child_sa->get_name(child_sa), child_sa->get_unique_id(child_sa),
			 (unsigned long long)l->quiet_ms);
		ike_sa->queue_task(ike_sa, (task_t*)ike_dpd_create(TRUE));
		status = ike_sa->initiate(ike_sa, NULL, NULL);
	}
	if (status == DESTROY_ME)
	{
		charon->ike_sa_manager->checkin_and_destroy(charon->ike_sa_manager,
													ike_sa);
	}
	else
	{
		charon->ike_sa_manager->checkin(charon->ike_sa_manager, ike_sa);
	}
	return JOB_REQUEUE_NONE;
}

/**
 * A liveness event: espgw sends into a tunnel but has received nothing under
 * its inbound SAs for a while (dataplane/control/liveness.h). Checked in a
 * job of its own: checking out the IKE_SA may wait (events mutex held).
 */
static void handle_liveness(private_kernel_espgw_ipsec_t *this,
							espgw_json_t *event)
{
	liveness_t *l;
	sa_entry_t *sa;
	char *text, *end;
	unsigned long spi;
	uint64_t quiet_ms = 0;

	text = espgw_json_get_string(event, "spi");
	errno = 0;
	spi = text ? strtoul(text, &end, 16) : 0;
	if (!text || errno || end == text || *end || !spi || spi > UINT32_MAX)
	{
		DBG1(DBG_KNL, "kernel-espgw: ignoring a liveness event without a "
			 "valid SPI");
		free(text);
		return;
	}
	free(text);
	espgw_json_get_uint(event, "quiet_ms", &quiet_ms);
	this->mutex->lock(this->mutex);
	sa = find_sa_dir(this, FALSE, htonl((uint32_t)spi));
	if (!sa)
	{
		this->mutex->unlock(this->mutex);
		DBG2(DBG_KNL, "kernel-espgw: liveness event for SA 0x%08lx, which is "
			 "not charon's: ignored", spi);
		return;
	}
	INIT(l,
		.spi = sa->spi,
		.dst = sa->dst->clone(sa->dst),
		.quiet_ms = quiet_ms,
	);
	this->mutex->unlock(this->mutex);
	lib->processor->queue_job(lib->processor,
		(job_t*)callback_job_create((callback_job_cb_t)check_liveness, l,
									(callback_job_cleanup_t)liveness_destroy,
									NULL));
}

/**
 * One event line from espgw (events mutex held).
 */
static void handle_event(private_kernel_espgw_ipsec_t *this, char *line,
						 size_t len)
{
	espgw_json_t *event;
	char *type = NULL, *direction = NULL, *text = NULL, *end;
	unsigned long spi;
	bool hard = FALSE;
	sa_entry_t *sa;

	event = espgw_json_parse(line, len);
	if (!event)
	{
		DBG1(DBG_KNL, "kernel-espgw: ignoring an event that is not a JSON "
			 "object");
		return;
	}
	type = espgw_json_get_string(event, "event");
	if (!type)
	{	/* the answer to subscribe */
		goto out;
	}
	if (streq(type, "acquire"))
	{
		handle_acquire(this, event);
		goto out;
	}
	if (streq(type, "liveness"))
	{
		handle_liveness(this, event);
		goto out;
	}
	if (!streq(type, "expire"))
	{
		DBG2(DBG_KNL, "kernel-espgw: ignoring espgw event '%s'", type);
		goto out;
	}
	direction = espgw_json_get_string(event, "direction");
	text = espgw_json_get_string(event, "spi");
	if (!direction || !text || !espgw_json_get_bool(event, "hard", &hard) ||
		(!streq(direction, "in") && !streq(direction, "out")))
	{
		DBG1(DBG_KNL, "kernel-espgw: ignoring a malformed expire event");
		goto out;
	}
	errno = 0;
	spi = strtoul(text, &end, 16);
	if (errno || end == text || *end || spi > UINT32_MAX)
	{
		DBG1(DBG_KNL, "kernel-espgw: ignoring an expire event with a bad SPI");
		goto out;
	}
	DBG1(DBG_KNL, "kernel-espgw: espgw: %s SA 0x%08lx reached its %s "
		 "lifetime", direction, spi, hard ? "hard" : "soft");
	this->mutex->lock(this->mutex);
	sa = find_sa_dir(this, streq(direction, "in"), htonl((uint32_t)spi));
	if (sa)
	{
		queue_expire(this, sa, hard);
	}
	else
	{
		DBG1(DBG_KNL, "kernel-espgw: no SA 0x%08lx known, ignoring its "
			 "expire", spi);
	}
	unlock(this);

out:
	free(type);
	free(direction);
	free(text);
	espgw_json_free(event);
}

/**
 * Handles every complete event line that can be read without waiting.
 * FALSE once the connection is gone (events mutex held).
 */
static bool drain_events(private_kernel_espgw_ipsec_t *this, int fd)
{
	char *line;
	size_t len;

	while (TRUE)
	{
		switch (espgw_linebuf_read(&this->events_in, fd, -1, &line, &len))
		{
			case ESPGW_READ_LINE:
				handle_event(this, line, len);
				continue;
			case ESPGW_READ_AGAIN:
				return TRUE;
			case ESPGW_READ_EOF:
				DBG1(DBG_KNL, "kernel-espgw: espgw closed the event "
					 "connection (stopped or restarting)");
				return FALSE;
			default:
				DBG1(DBG_KNL, "kernel-espgw: reading espgw's events failed: "
					 "%s", strerror(errno));
				return FALSE;
		}
	}
}

CALLBACK(on_events, bool,
	private_kernel_espgw_ipsec_t *this, int fd, watcher_event_t event)
{
	bool alive;

	this->events_mutex->lock(this->events_mutex);
	alive = drain_events(this, fd);
	if (!alive)
	{	/* the reconnect job removes it from the watcher and closes it */
		schedule_reconnect(this, RECONNECT_MS);
	}
	this->events_mutex->unlock(this->events_mutex);
	return alive;
}

/**
 * Connects an event connection and subscribes; what arrives after the
 * answer stays in buf. Returns the descriptor or -1. Takes no lock: a
 * thread cancelled in poll() must not leave one held.
 */
static int subscribe(private_kernel_espgw_ipsec_t *this, espgw_linebuf_t *buf)
{
	espgw_json_writer_t w;
	espgw_json_t *resp = NULL;
	const char *req;
	char *line;
	size_t len;
	bool ok = FALSE;
	int fd;

	fd = espgw_socket_connect(this->path);
	if (fd < 0)
	{
		return -1;
	}
	espgw_json_writer_init(&w);
	espgw_json_object_begin(&w, NULL);
	espgw_json_string(&w, "cmd", "subscribe");
	espgw_json_object_end(&w);
	req = espgw_json_writer_finish(&w, &len);
	if (req && espgw_socket_send(fd, req, len, this->timeout_ms) &&
		espgw_linebuf_read(buf, fd, this->timeout_ms, &line,
						   &len) == ESPGW_READ_LINE)
	{
		resp = espgw_json_parse(line, len);
		ok = resp && answer_ok(resp, "subscribe");
	}
	espgw_json_free(resp);
	espgw_json_writer_wipe(&w);
	if (!ok)
	{
		close(fd);
		return -1;
	}
	return fd;
}

/**
 * (Re)connects the event connection; then checks the request connection,
 * so that a restarted espgw gets its SAs back without waiting for charon's
 * next call.
 */
static job_requeue_t reconnect_events(private_kernel_espgw_ipsec_t *this)
{
	espgw_json_writer_t w;
	espgw_linebuf_t buf = {};
	int old, fd;

	this->events_mutex->lock(this->events_mutex);
	this->events_retry = FALSE;
	old = this->events_fd;
	this->events_fd = -1;
	this->events_mutex->unlock(this->events_mutex);
	if (old >= 0)
	{
		lib->watcher->remove(lib->watcher, old);
		close(old);
	}

	fd = subscribe(this, &buf);

	this->events_mutex->lock(this->events_mutex);
	espgw_linebuf_reset(&this->events_in);
	this->events_in = buf;
	if (fd >= 0 && !this->destroying)
	{
		DBG1(DBG_KNL, "kernel-espgw: subscribed to espgw's events");
		if (drain_events(this, fd))
		{
			this->events_fd = fd;
			lib->watcher->add(lib->watcher, fd, WATCHER_READ, on_events, this);
			fd = -1;
		}
	}
	if (fd >= 0)
	{
		close(fd);
	}
	if (this->events_fd < 0)
	{
		schedule_reconnect(this, RECONNECT_MS);
		this->events_mutex->unlock(this->events_mutex);
		return JOB_REQUEUE_NONE;
	}
	this->events_mutex->unlock(this->events_mutex);

	espgw_json_writer_init(&w);
	espgw_json_object_begin(&w, NULL);
	espgw_json_string(&w, "cmd", "status");
	espgw_json_object_end(&w);
	this->mutex->lock(this->mutex);
	simple_request(this, &w, "status");
	unlock(this);
	espgw_json_writer_wipe(&w);
	return JOB_REQUEUE_NONE;
}

/**
 * Tries the event connection again later (events mutex held).
 */
static void schedule_reconnect(private_kernel_espgw_ipsec_t *this, u_int ms)
{
	if (this->events_retry || this->destroying)
	{
		return;
	}
	this->events_retry = TRUE;
	lib->scheduler->schedule_job_ms(lib->scheduler,
			(job_t*)callback_job_create((callback_job_cb_t)reconnect_events,
										this, NULL, NULL), ms);
}

METHOD(kernel_ipsec_t, destroy, void,
	private_kernel_espgw_ipsec_t *this)
{
	int fd;

	this->events_mutex->lock(this->events_mutex);
	this->destroying = TRUE;
	fd = this->events_fd;
	this->events_fd = -1;
	this->events_mutex->unlock(this->events_mutex);
	if (fd >= 0)
	{
		lib->watcher->remove(lib->watcher, fd);
		close(fd);
	}
	espgw_linebuf_reset(&this->events_in);
	close_request(this);
	this->sas->destroy_function(this->sas, (void*)sa_entry_destroy);
	this->policies->destroy_function(this->policies,
									 (void*)policy_entry_destroy);
	this->expires->destroy(this->expires);
	array_destroy(this->acquire_unknown);
	this->events_mutex->destroy(this->events_mutex);
	this->mutex->destroy(this->mutex);
	free(this->path);
	free(this);
}

/*
 * Described in header.
 */
kernel_espgw_ipsec_t *kernel_espgw_ipsec_create()
{
	private_kernel_espgw_ipsec_t *this;

	INIT(this,
		.public = {
			.interface = {
				.get_features = _get_features,
				.get_spi = _get_spi,
				.get_cpi = _get_cpi,
				.add_sa = _add_sa,
				.update_sa = _update_sa,
				.query_sa = _query_sa,
				.del_sa = _del_sa,
				.flush_sas = _flush_sas,
				.add_policy = _add_policy,
				.query_policy = _query_policy,
				.del_policy = _del_policy,
				.flush_policies = _flush_policies,
				.bypass_socket = _bypass_socket,
				.enable_udp_decap = _enable_udp_decap,
				.destroy = _destroy,
			},
		},
		.path = strdup(lib->settings->get_str(lib->settings,
							"%s.plugins.kernel-espgw.socket", DEFAULT_SOCKET,
							lib->ns)),
		.timeout_ms = lib->settings->get_int(lib->settings,
							"%s.plugins.kernel-espgw.timeout", DEFAULT_TIMEOUT_MS,
							lib->ns),
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
		.events_mutex = mutex_create(MUTEX_TYPE_DEFAULT),
		.fd = -1,
		.events_fd = -1,
		.sas = linked_list_create(),
		.policies = linked_list_create(),
		.expires = linked_list_create(),
		.acquire_unknown = array_create(sizeof(uint32_t), 0),
	);
	if (this->timeout_ms <= 0)
	{
		this->timeout_ms = DEFAULT_TIMEOUT_MS;
	}
	DBG1(DBG_KNL, "kernel-espgw: SAs go to espgw's control socket %s",
		 this->path);

	/* at start-up espgw drops what an earlier charon left (sa-flush); if it
	 * is not there yet, that happens when it is */
	this->mutex->lock(this->mutex);
	connect_request(this);
	unlock(this);
	reconnect_events(this);
	return &this->public;
}
