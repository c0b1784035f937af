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
 * What the files of the kernel-espgw kernel_ipsec_t share: its private
 * struct, the records of the SAs and policies it installed, and the functions
 * one file calls in another. Internal to the plugin: charon sees
 * kernel_espgw_ipsec.h only, and the module exports nothing else (hidden
 * visibility).
 *
 *   kernel_espgw_ipsec.c     create, destroy, get_features
 *   kernel_espgw_sa.c        the SA table and its requests (get_spi .. flush_sas)
 *   kernel_espgw_policy.c    policies, reference-counted per selector
 *   kernel_espgw_request.c   the request connection: one request, one answer
 *   kernel_espgw_resync.c    (re)connecting: espgw gets charon's SAs back
 *   kernel_espgw_expire.c    expires raised after the mutex, lifetime timers
 *   kernel_espgw_events.c    the event connection: expire, acquire, liveness
 */

#ifndef KERNEL_ESPGW_PRIVATE_H_
#define KERNEL_ESPGW_PRIVATE_H_

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
#include <threading/mutex.h>

/** espgw's default control socket (docs/control-protocol.md) */
#define DEFAULT_SOCKET "/run/espgw/espgw.sock"

/** how long to wait for an answer */
#define DEFAULT_TIMEOUT_MS 10000

/** between two tries to reach espgw for events: often at first, so that a
 * restarted espgw has its SAs back within milliseconds of answering
 * (docs/sa-state.md), then once a second */
#define RECONNECT_FAST_MS 20
#define RECONNECT_FAST_TRIES 500
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

	/** tries to reach espgw for events since the connection was lost */
	u_int events_tries;

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

typedef enum {
	EXCHANGE_OK,
	EXCHANGE_IO,
	EXCHANGE_TIMEOUT,
} exchange_t;

/* kernel_espgw_sa.c */

/** Wipes the keys and frees an SA record. */
void sa_entry_destroy(sa_entry_t *entry);

/**
 * Writes the sa-add request for an SA (verb "cmd"), or the same as an op of an
 * apply transaction (verb "op"). It holds keys: wipe the writer after use.
 */
void write_sa_add(espgw_json_writer_t *w, sa_entry_t *sa, const char *verb);

/** An SA as espgw names it: direction and SPI (network order); mutex held. */
sa_entry_t *find_sa_dir(private_kernel_espgw_ipsec_t *this, bool inbound,
						uint32_t spi);

/** Fills in the SA methods of the interface. */
void kernel_espgw_sa_methods(private_kernel_espgw_ipsec_t *this);

/* kernel_espgw_policy.c */

void policy_entry_destroy(policy_entry_t *entry);

/**
 * The reqid of the outbound policy of tunnel if_id, preferring one whose
 * selectors cover the packet (src, dst may be NULL); 0 if none (mutex held).
 */
uint32_t acquire_reqid(private_kernel_espgw_ipsec_t *this, uint32_t if_id,
					   host_t *src, host_t *dst);

/** Fills in the policy methods of the interface. */
void kernel_espgw_policy_methods(private_kernel_espgw_ipsec_t *this);

/* kernel_espgw_request.c */

/** Closes the request connection (mutex held). */
void close_request(private_kernel_espgw_ipsec_t *this);

/** One request and its answer on the current connection (mutex held). */
exchange_t exchange(private_kernel_espgw_ipsec_t *this, const char *req,
					size_t len, espgw_json_t **resp);

/**
 * Whether an answer says ok; logs espgw's error with what was asked if not,
 * at level 1, or at level 2 for queries.
 */
bool answer_ok_level(espgw_json_t *resp, const char *what, int level);
bool answer_ok(espgw_json_t *resp, const char *what);

/**
 * Sends a request and reads the answer, connecting (and resyncing) first if
 * needed (mutex held); resynced, if not NULL, says whether a resync happened.
 */
status_t request(private_kernel_espgw_ipsec_t *this, espgw_json_writer_t *w,
				 espgw_json_t **resp, bool *resynced);

/** A request whose answer only needs to be ok (mutex held). */
status_t simple_request(private_kernel_espgw_ipsec_t *this,
						espgw_json_writer_t *w, const char *what);

/* kernel_espgw_resync.c */

/**
 * Connects the request connection and installs every known SA in espgw again
 * (mutex held); FALSE if espgw is not reachable.
 */
bool connect_request(private_kernel_espgw_ipsec_t *this);

/* kernel_espgw_expire.c */

/** Queues an expire for an SA, raised by unlock() (mutex held). */
void queue_expire(private_kernel_espgw_ipsec_t *this, sa_entry_t *sa,
				  bool hard);

/** Releases the mutex, then raises the expires queued under it. */
void unlock(private_kernel_espgw_ipsec_t *this);

/** Schedules an SA's soft or hard time lifetime (0: none). */
void schedule_lifetime(private_kernel_espgw_ipsec_t *this, sa_entry_t *sa,
					   uint64_t seconds, bool hard);

/* kernel_espgw_events.c */

/**
 * (Re)connects the event connection; then checks the request connection, so
 * that a restarted espgw gets its SAs back without waiting for charon's next
 * call.
 */
job_requeue_t reconnect_events(private_kernel_espgw_ipsec_t *this);

#endif /** KERNEL_ESPGW_PRIVATE_H_ */
