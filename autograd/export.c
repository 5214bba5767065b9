/* export.c: the precision tag of this build of the library (see export.h). A program compiled
 * for the other precision references the other tag, which this library does not define. */
#include "autograd/export.h"

const int TGI_PRECISION_TAG = 1;
