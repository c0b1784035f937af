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
 * Expires: queued while the mutex is held and raised to charon after it is
 * released (charon's handlers queue jobs that call back into this interface),
 * and the time lifetimes of SAs, which XFRM would run for the kernel and charon
 * schedules none of itself. Byte and packet lifetimes are espgw's to count; they
 * arrive as expire events (kernel_espgw_events.c).
 */

#include "kernel_espgw_private.h"

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

/**
 * Queues an expire for an SA, raised by unlock() (mutex held).
 */
void queue_expire(private_kernel_espgw_ipsec_t *this, sa_entry_t *sa,
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
void unlock(private_kernel_espgw_ipsec_t *this)
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

void schedule_lifetime(private_kernel_espgw_ipsec_t *this,
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
