/**
 * Enrollment with wazuh-authd (port 1515, TLS): get an agent key from the manager.
 *
 * @module
 */
export {
  enroll,
  enrollWithFallback,
  enrollmentBackoffDelay,
  DEFAULT_ENROLLMENT_TIMEOUT,
  DEFAULT_ENROLLMENT_RETRY_DELAY,
  ENROLLMENT_BACKOFF_STEP,
  ENROLLMENT_BACKOFF_MAX,
} from './client.js';
export type { EnrollOptions, EnrollWithFallbackOptions, EnrollmentAttemptFailure, EnrollmentTarget } from './client.js';
