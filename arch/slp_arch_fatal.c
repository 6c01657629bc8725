/* What happens when a context's entry function returns: there is no caller to return
 * to (the initial frame's return address is the port's trampoline), so the process
 * ends here, loudly, instead of jumping to garbage. */
#include "slp_arch.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void slp_arch_entry_returned(void) {
    static const char msg[] =
        "slp: fatal: a context's entry function returned; an entry must end by jumping "
        "to another context (slp_jump/slp_ontop)\n";
    /* write(2) only: this may run on a damaged context, so no stdio, no allocation. */
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    abort();
}
