/**
 * Entry point of one worker process: a warm Lambda instance of one function. It imports the
 * function's built bundle once (the init phase), then runs one invocation at a time as the parent
 * asks, with a Lambda-like context. Module state lives in this process only, as on Lambda, where
 * instances share no memory. Started by `worker-pool.ts` with `child_process.fork`; argv[2] is a
 * JSON WorkerSpec. Uses only Node built-ins so start-up stays fast.
 */
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import type { InvokeRequest, WorkerMessage, WorkerSpec } from '#tools/local/worker-protocol.ts';

/** Lambda's `$LATEST` version label, which the local stack always runs. */
const FUNCTION_VERSION = '$LATEST';
/** Account id fauxqs uses in ARNs; the local stack uses it everywhere for consistency. */
const LOCAL_ACCOUNT_ID = '000000000000';

type Handler = (event: unknown, context: Context) => unknown;

function send(message: WorkerMessage): void {
  process.send?.(message);
}

function contextFor(spec: WorkerSpec, request: InvokeRequest): Context {
  const unsupported = () => {
    throw new Error('callback-style completion is not supported; return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: spec.functionName,
    functionVersion: FUNCTION_VERSION,
    invokedFunctionArn: `arn:aws:lambda:${spec.region}:${LOCAL_ACCOUNT_ID}:function:${spec.functionName}`,
    memoryLimitInMB: String(spec.memoryLimitInMB),
    awsRequestId: request.awsRequestId,
    logGroupName: `/aws/lambda/${spec.functionName}`,
    logStreamName: `local/[${FUNCTION_VERSION}]/${process.pid}`,
    getRemainingTimeInMillis: () => Math.max(0, request.deadlineMs - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as WorkerSpec;
  // The parent going away (stop, crash) ends the instance: never outlive the stack.
  process.on('disconnect', () => process.exit(0));
  const module = (await import(pathToFileURL(spec.bundlePath).href)) as { handler?: unknown };
  if (typeof module.handler !== 'function') {
    // Lambda: Runtime.HandlerNotFound. Exiting makes the invocation fail as a crash.
    console.error(`Runtime.HandlerNotFound: ${spec.bundlePath} exports no function 'handler'`);
    process.exit(1);
  }
  const handler = module.handler as Handler;
  process.on('message', async (request: InvokeRequest) => {
    if (request.type !== 'invoke') return;
    try {
      const response = await handler(request.event, contextFor(spec, request));
      send({ type: 'response', awsRequestId: request.awsRequestId, response: response ?? null });
    } catch (error) {
      const errorType = error instanceof Error ? error.name : typeof error;
      const errorMessage = error instanceof Error ? error.message : String(error);
      // Lambda logs failed invocations this way; messages of our errors carry no clinical data.
      console.error(
        `${new Date().toISOString()}\t${request.awsRequestId}\tERROR\tInvoke Error\t${JSON.stringify({ errorType, errorMessage })}`,
      );
      send({ type: 'error', awsRequestId: request.awsRequestId, errorType, errorMessage });
    }
  });
  send({ type: 'ready' });
}

await main();
