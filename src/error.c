/* The tables generated from PF_ERRNO_MAP. */
#include "preflight/error.h"

const char *pf_strerror(int err) {
  switch (err) {
#define PF__ERRNO_MSG(name, code, status, msg) case PF_E##name: return msg;
    PF_ERRNO_MAP(PF__ERRNO_MSG)
#undef PF__ERRNO_MSG
  }
  return err == 0 ? "success" : "unknown error";
}

int pf_exit_status(int err) {
  switch (err) {
#define PF__ERRNO_STATUS(name, code, status, msg) case PF_E##name: return status;
    PF_ERRNO_MAP(PF__ERRNO_STATUS)
#undef PF__ERRNO_STATUS
  }
  return err == 0 ? 0 : 70;
}
