/* slp_test_module.h — what test_module.cpp calls in the test's shared object. */
#ifndef SLP_TEST_MODULE_H
#define SLP_TEST_MODULE_H

#include "slp_arch.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLP_TEST_MODULE_STATE 0x600d00

/* An slp_ontop fn living in another shared object: returns t with data increased by
 * that object's own state, SLP_TEST_MODULE_STATE. */
slp_transfer slp_test_module_ontop(slp_transfer t);

#ifdef __cplusplus
}
#endif

#endif /* SLP_TEST_MODULE_H */
