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
 *
 * The code is spread over files named for what they hold; the private
 * struct they share and the list of them are in kernel_espgw_private.h.
 */

#include "kernel_espgw_private.h"

METHOD(kernel_ipsec_t, get_features, kernel_feature_t,
	private_kernel_espgw_ipsec_t *this)
{
	/* Policies only count references here: nothing to reinstall when an
	 * SA's addresses change. No KERNEL_POLICY_SPI: an outbound SA becomes
	 * its tunnel's SA in use as soon as espgw has it, so charon must keep a
	 * responder's new outbound SA back until the rekey is complete. */
	return KERNEL_NO_POLICY_UPDATES;
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
	kernel_espgw_sa_methods(this);
	kernel_espgw_policy_methods(this);
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
