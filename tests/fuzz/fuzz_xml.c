/* libFuzzer target: arbitrary bytes as pool and volume XML; aborts when an
 * invariant of fuzz_check.h breaks. See README.md in this directory. */
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *why = pk_fuzz_xml_check(data, size, NULL);
    if (why) {
        fprintf(stderr, "fuzz_xml: %s\n", why);
        free(why);
        abort();
    }
    return 0;
}
