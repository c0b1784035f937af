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

/**
 * @defgroup kernel_espgw_ipsec kernel_espgw_ipsec
 * @{ @ingroup kernel_espgw
 */

#ifndef KERNEL_ESPGW_IPSEC_H_
#define KERNEL_ESPGW_IPSEC_H_

#include <library.h>
#include <kernel/kernel_ipsec.h>

typedef struct kernel_espgw_ipsec_t kernel_espgw_ipsec_t;

/**
 * kernel_ipsec_t that installs charon's SAs in espgw's dataplane: every call
 * becomes a request on espgw's control socket (docs/ike-bridge.md).
 */
struct kernel_espgw_ipsec_t {

	/**
	 * Implements kernel_ipsec_t interface
	 */
	kernel_ipsec_t interface;
};

/**
 * Create the espgw kernel_ipsec_t. Succeeds while espgw is not running yet:
 * the connection is made (and the dataplane flushed of IKE SAs) as soon as
 * it is.
 *
 * @return			kernel_espgw_ipsec_t instance
 */
kernel_espgw_ipsec_t *kernel_espgw_ipsec_create();

#endif /** KERNEL_ESPGW_IPSEC_H_ @}*/
