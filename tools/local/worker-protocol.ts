/**
 * The IPC messages between the event-source runner (parent) and a worker process (one warm Lambda
 * instance). Plain JSON over the `child_process` channel, like Lambda's Runtime API passes events
 * and responses as JSON: nothing but the event and the response crosses the process boundary.
 */

/** What a worker needs to build the Lambda context of one invocation. */
export interface InvokeRequest {
  readonly type: 'invoke';
  readonly awsRequestId: string;
  readonly event: unknown;
  /** Epoch milliseconds at which the invocation times out (`getRemainingTimeInMillis`). */
  readonly deadlineMs: number;
}

/** The handler's return value (Lambda serialises it to JSON, so `undefined` becomes `null`). */
export interface InvokeResponse {
  readonly type: 'response';
  readonly awsRequestId: string;
  readonly response: unknown;
}

/** The handler threw or rejected: Lambda reports `errorType` and `errorMessage`. */
export interface InvokeError {
  readonly type: 'error';
  readonly awsRequestId: string;
  readonly errorType: string;
  readonly errorMessage: string;
}

/** The bundle was imported (Lambda's init phase finished); the worker takes invocations. */
export interface WorkerReady {
  readonly type: 'ready';
}

/** Any message a worker sends to the parent. */
export type WorkerMessage = InvokeResponse | InvokeError | WorkerReady;

/** Static facts of the function a worker runs, passed once at start (argv). */
export interface WorkerSpec {
  readonly bundlePath: string;
  readonly functionName: string;
  readonly memoryLimitInMB: number;
  readonly region: string;
}
