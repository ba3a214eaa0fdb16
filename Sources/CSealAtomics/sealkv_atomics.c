// The operations are inline functions in the header; this file gives the target a source file.
#include "sealkv_atomics.h"
