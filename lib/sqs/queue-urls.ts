/**
 * Queue URLs by event source ARN, and their dead-letter queues' URLs (from the redrive policy),
 * looked up once per process for the consumer's visibility changes and dead-lettering.
 */
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** Queue URLs by ARN, and their DLQs, looked up once per process. */
export class QueueUrls {
  readonly #sqs: SQSClient;
  readonly #urls = new Map<string, Promise<string>>();
  readonly #dlqUrls = new Map<string, Promise<string>>();

  constructor(sqs: SQSClient) {
    this.#sqs = sqs;
  }

  urlOf(arn: string): Promise<string> {
    let url = this.#urls.get(arn);
    if (!url) {
      url = this.#sqs
        .send(new GetQueueUrlCommand({ QueueName: queueNameOf(arn) }))
        .then((result) => result.QueueUrl!);
      url.catch(() => this.#urls.delete(arn));
      this.#urls.set(arn, url);
    }
    return url;
  }

  deadLetterUrlOf(arn: string): Promise<string> {
    let url = this.#dlqUrls.get(arn);
    if (!url) {
      url = this.urlOf(arn).then(async (queueUrl) => {
        const { Attributes } = await this.#sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }),
        );
        const policy = JSON.parse(Attributes?.RedrivePolicy ?? '{}') as {
          deadLetterTargetArn?: string;
        };
        if (!policy.deadLetterTargetArn) throw new Error(`queue ${queueNameOf(arn)} has no DLQ`);
        return this.urlOf(policy.deadLetterTargetArn);
      });
      url.catch(() => this.#dlqUrls.delete(arn));
      this.#dlqUrls.set(arn, url);
    }
    return url;
  }
}

/** The queue name at the end of an SQS ARN (`arn:aws:sqs:region:account:name`). */
export function queueNameOf(arn: string): string {
  return arn.slice(arn.lastIndexOf(':') + 1);
}
