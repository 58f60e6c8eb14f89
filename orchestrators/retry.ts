import * as df from 'durable-functions';

/**
 * The coarse retry of a failed activity (a crashed worker, storage briefly away). HTTP throttling and
 * transient Graph errors are retried inside the Graph client; this layer only restarts whole activities,
 * which is safe because each one is idempotent over the ledger.
 */
export function activityRetry(): df.RetryOptions {
  const retry = new df.RetryOptions(5_000, 5);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 60_000;
  return retry;
}
