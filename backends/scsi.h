/* The scsi backend: a pool is a SCSI host adapter (scsi_host by name or by
 * PCI address, or an fc_host vHBA), its volumes are the host's LUNs. */
#pragma once
#include "backend.h"

extern const pk_backend pk_backend_scsi;

/* How long start waits for a new vHBA to appear (tests shorten it). */
void pk_scsi_set_vport_wait_ms(int ms);
