/**
 * CloudFormation building blocks shared by the infra modules: value types, intrinsic functions and
 * the logical ids other modules refer to.
 */
import type { DeployedFunctionName } from '#infra/functions.ts';
import type { QueueDefinition } from '#infra/resources.ts';

/** A CloudFormation value: literal or intrinsic function. */
export type CfnValue = unknown;
/** One CloudFormation resource. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties: Record<string, CfnValue>;
  /** Logical ids CloudFormation must create first. */
  readonly DependsOn?: readonly string[];
  /** What CloudFormation does with the resource when the stack deletes it (`Retain` keeps it). */
  readonly DeletionPolicy?: 'Delete' | 'Retain' | 'Snapshot';
  /** What CloudFormation does with the old resource when an update replaces it. */
  readonly UpdateReplacePolicy?: 'Delete' | 'Retain' | 'Snapshot';
}

/** `Ref` of a logical id (or a pseudo parameter such as `AWS::Region`). */
export const ref = (logicalId: string) => ({ Ref: logicalId });
/** The ARN of a resource of this template. */
export const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
/** `Fn::Sub` of a template string (`${AWS::Region}` and friends). */
export const sub = (template: string) => ({ 'Fn::Sub': template });

/** Logical id of a queue's dead-letter queue, e.g. `UserEventsQueueDlq`. */
export function deadLetterLogicalId(queue: QueueDefinition): string {
  return `${queue.logicalId}Dlq`;
}

/** Logical id of a function's own IAM role, e.g. `SyncUserRole`. */
export function roleLogicalId(name: DeployedFunctionName): string {
  const pascal = name.replace(/(^|-)([a-z])/g, (_match: string, _dash: string, letter: string) =>
    letter.toUpperCase(),
  );
  return `${pascal}Role`;
}
