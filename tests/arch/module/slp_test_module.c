/* slp_test_module.c — a shared object of its own for the module-pointer test
 * (test_module.cpp). Its function is an slp_ontop `fn` that reads this object's data,
 * which code reaches through its own module pointer (ppc64le: r2, the TOC; elsewhere a
 * GOT- or pc-relative address). A port that returns from fn into the resumed context
 * without giving that context its own module pointer back leaves the context reading
 * this object's data where it expects its own. */
#include "slp_test_module.h"

#include "slp_arch.h"

/* volatile: read on every call, through the module pointer. */
static volatile intptr_t module_state = SLP_TEST_MODULE_STATE;

slp_transfer slp_test_module_ontop(slp_transfer t) {
    t.data = (void*)((intptr_t)t.data + module_state);
    return t;
}
