/** Units of time shared by the runtime and the tools: durations are milliseconds throughout. */

/** Milliseconds in a second (configuration, `Retry-After` and SQS speak seconds). */
export const MS_PER_SECOND = 1000;
