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
 * The event connection: subscribed to espgw's events and watched by
 * lib->watcher. An expire is an SA's byte or packet lifetime reached in espgw;
 * an acquire is traffic into a tunnel without an SA, raised as the acquire of
 * charon's trap policy; liveness is a tunnel that sends but hears nothing, for
 * which charon checks the peer (DPD). The connection is made again after espgw
 * restarts, and the request connection then resyncs.
 */

#include "kernel_espgw_private.h"

#include <sa/ikev2/tasks/ike_dpd.h>

static void schedule_reconnect(private_kernel_espgw_ipsec_t *this, u_int ms);

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
		this->events_tries = 0;
		schedule_reconnect(this, RECONNECT_FAST_MS);
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
job_requeue_t reconnect_events(private_kernel_espgw_ipsec_t *this)
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
			this->events_tries = 0;
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
		schedule_reconnect(this, ++this->events_tries < RECONNECT_FAST_TRIES ?
						   RECONNECT_FAST_MS : RECONNECT_MS);
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
