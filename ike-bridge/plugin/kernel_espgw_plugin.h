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
 * @defgroup kernel_espgw kernel_espgw
 * @ingroup cplugins
 *
 * @defgroup kernel_espgw_plugin kernel_espgw_plugin
 * @{ @ingroup kernel_espgw
 */

#ifndef KERNEL_ESPGW_PLUGIN_H_
#define KERNEL_ESPGW_PLUGIN_H_

#include <library.h>
#include <plugins/plugin.h>

typedef struct kernel_espgw_plugin_t kernel_espgw_plugin_t;

/**
 * charon plugin that provides "kernel-ipsec" through espgw's dataplane.
 * Load it before kernel-netlink, which then provides "kernel-net" only.
 */
struct kernel_espgw_plugin_t {

	/**
	 * implements plugin interface
	 */
	plugin_t plugin;
};

#endif /** KERNEL_ESPGW_PLUGIN_H_ @}*/
