/* The invariants every input must keep, shared by the libFuzzer target and
 * the deterministic mutation test: parsing never crashes, a refusal always
 * says why and where, and whatever is accepted formats to canonical XML that
 * parses back to the very same text (format is a fixpoint). */
#pragma once
#include "../../controller/base/pk.h"

/* Outcome of one input, for statistics. */
typedef struct {
    bool pool_ok;             /* accepted as a <pool> */
    size_t vols_ok;           /* accepted as a <volume> by this many fixed pools */
} pk_fuzz_result;

/* Run data through pk_pool_parse and through pk_vol_parse against each of a
 * few fixed pools (dir, logical, disk, rbd), checking the invariants. Returns
 * NULL, or a description of the first broken invariant (caller frees). */
char *pk_fuzz_xml_check(const uint8_t *data, size_t len, pk_fuzz_result *res);
/* Free the fixed pools (for leak checkers at exit). */
void pk_fuzz_xml_cleanup(void);
