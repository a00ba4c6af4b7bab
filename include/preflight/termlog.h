/* Kubernetes' termination message: when /dev/termination-log exists and is a writable regular
 * file (the kubelet mounts one into every container), the final error line is written there, so
 * that `kubectl describe pod` shows why an init container or the app's preflight failed without
 * anyone reading logs. PREFLIGHT_TERMINATION_LOG names another file (for a pod's
 * terminationMessagePath, or a test); it too must already exist. */
#ifndef PREFLIGHT_TERMLOG_H
#define PREFLIGHT_TERMLOG_H

#define PF_TERMLOG_DEFAULT "/dev/termination-log"
#define PF_TERMLOG_MAX_BYTES 4096   /* the kubelet keeps at most this much */

/* Replaces the termination log's contents with "preflight: <msg>\n" (msg already redacted, cut to
 * PF_TERMLOG_MAX_BYTES). Does nothing when msg is NULL or empty, or the file is absent, not a
 * regular file or not writable: the message is on stderr anyway. Never blocks on a FIFO. */
void pf_termlog_write(const char *msg);

#endif
